# The ASR workers: a managed instance group of GPU (or CPU) VMs on Container-Optimized
# OS running the asr image, pulling the asr subscription, scaled on its backlog.

locals {
  asr_device_env = var.asr_gpu_type == null ? {
    WHISPER_DEVICE       = "cpu"
    WHISPER_COMPUTE_TYPE = "int8"
    } : {
    WHISPER_DEVICE       = "cuda"
    WHISPER_COMPUTE_TYPE = "float16"
  }
}

module "asr" {
  source = "./modules/asr"
  count  = var.deploy_images ? 1 : 0

  project_id            = var.project_id
  region                = var.region
  zone                  = var.asr_zone
  name                  = "${var.name_prefix}-asr"
  image                 = "${local.registry}/${var.asr_gpu_type == null ? "asr-cpu" : "asr"}:${var.image_tag}"
  machine_type          = var.asr_machine_type
  gpu_type              = var.asr_gpu_type
  spot                  = var.asr_spot
  boot_disk_gb          = var.asr_boot_disk_gb
  min_instances         = var.asr_min_instances
  max_instances         = var.asr_max_instances
  messages_per_instance = var.asr_messages_per_instance
  subscription          = var.asr_subscription
  env                   = merge(local.common_env, local.db_env["asr"], local.asr_device_env, var.asr_env)
  secret_env            = { DATABASE_URL = google_secret_manager_secret.app["DATABASE_URL"].id }
  service_account_email = google_service_account.component["asr"].email
  subnetwork            = google_compute_subnetwork.workers.self_link
  labels                = var.labels

  depends_on = [
    google_compute_router_nat.main,
    google_secret_manager_secret_version.app,
    google_secret_manager_secret_iam_member.grant,
    google_pubsub_subscription_iam_member.grant,
    google_artifact_registry_repository_iam_member.grant,
  ]
}
