# Optional self-hosted LLM (issue 23): vLLM's OpenAI-compatible server with an open
# instruct model on a GPU VM of its own, on the workers subnet with no external IP, so
# transcripts never leave the project. The analyze function reaches it through the VPC
# connector: its OPENAI_BASE_URL and OPENAI_MODEL point there (local.llm_env), and the
# OPENAI_API_KEY secret is the key the server demands. Off unless var.llm_server is set.

locals {
  llm_enabled = var.llm_server != null
  llm_env = local.llm_enabled ? {
    OPENAI_BASE_URL            = module.llm_server[0].base_url
    OPENAI_MODEL               = var.llm_server.served_model_name
    OPENAI_PRICE_INPUT_PER_1M  = "0" # paid by the hour, not by the token
    OPENAI_PRICE_OUTPUT_PER_1M = "0"
  } : {}
}

resource "google_service_account" "llm" {
  count = local.llm_enabled ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}-llm"
  display_name = "SalesControl self-hosted LLM server"

  lifecycle {
    precondition {
      condition     = local.openai_enabled
      error_message = "llm_server needs openai_api_key: set it to a long random string, the key the vLLM server demands and the analyze function sends."
    }
  }
}

# Its grants (the OPENAI_API_KEY secret, log and metric writing) are modules/grants'.

module "llm_server" {
  source = "./modules/llm_server"
  count  = local.llm_enabled ? 1 : 0

  project_id            = var.project_id
  region                = var.region
  zone                  = var.llm_server.zone
  name                  = "${var.name_prefix}-llm"
  machine_type          = var.llm_server.machine_type
  gpu_type              = var.llm_server.gpu_type
  spot                  = var.llm_server.spot
  boot_disk_gb          = var.llm_server.boot_disk_gb
  vllm_image            = var.llm_server.vllm_image
  model                 = var.llm_server.model
  served_model_name     = var.llm_server.served_model_name
  max_model_len         = var.llm_server.max_model_len
  api_key_secret        = google_secret_manager_secret.app["OPENAI_API_KEY"].id
  service_account_email = google_service_account.llm[0].email
  network               = google_compute_network.main.self_link
  subnetwork            = google_compute_subnetwork.workers.self_link
  client_ranges         = [google_vpc_access_connector.main.ip_cidr_range]
  labels                = var.labels

  depends_on = [
    google_compute_router_nat.main, # the image and the weights come through Cloud NAT
    google_secret_manager_secret_version.app,
    google_secret_manager_secret_iam_member.grant,
    google_project_iam_member.grant,
  ]
}
