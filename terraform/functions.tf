# The Cloud Functions (gen2) of the topology, each with its own service account. An
# HTTP function is plain HTTP; a function whose trigger is a subscription is a
# CloudEvent function fed by that push subscription (created in modules/pubsub). Who may
# invoke which function is granted in iam.tf (modules/grants).

# What goes into each archive: functions/<name>/ at the root, with the function's own
# pinned requirements.txt that Cloud Functions installs, and salescontrol/ beside it.
module "function_source" {
  source   = "./modules/function_source"
  for_each = module.topology.functions

  function_dir = "${local.repo_root}/functions/${each.key}"
  core_dir     = "${local.repo_root}/salescontrol"
}

resource "google_storage_bucket" "sources" {
  # checkov:skip=CKV_GCP_62:Build inputs only, named by content hash; Cloud Audit Logs record access, no usage-log bucket.
  # checkov:skip=CKV_GCP_78:Archives are rebuilt from the repository on every plan; old versions have no use.
  project                     = var.project_id
  name                        = "${var.project_id}-function-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = var.labels

  depends_on = [google_project_service.apis]
}

module "function" {
  source   = "./modules/function"
  for_each = module.topology.functions

  project_id    = var.project_id
  region        = var.region
  name          = each.key
  files         = module.function_source[each.key].files
  build_dir     = "${path.module}/.build"
  source_bucket = google_storage_bucket.sources.name
  runtime       = var.function_runtime

  cloudevent = !each.value.http
  public     = var.functions[each.key].public

  memory        = var.functions[each.key].memory
  timeout_sec   = var.functions[each.key].timeout_sec
  min_instances = var.functions[each.key].min_instances
  max_instances = var.functions[each.key].max_instances
  env = merge(
    local.common_env,
    local.db_env[each.key],
    each.key == "analyze" ? local.llm_env : {},
    lookup(local.function_env, each.key, {}),
    var.functions[each.key].env,
  )
  secret_env = {
    for s in var.functions[each.key].secrets : s => google_secret_manager_secret.app[s].secret_id
    if contains(local.available_secrets, s)
  }

  service_account_email = google_service_account.function[each.key].email
  build_service_account = google_service_account.component["builder"].id
  vpc_connector         = google_vpc_access_connector.main.id
  labels                = var.labels

  depends_on = [
    google_secret_manager_secret_version.app,
    google_secret_manager_secret_iam_member.grant,
    google_project_iam_member.grant,
  ]
}

# What one function needs beyond the shared environment: the digest's channels and the
# dashboard's address for its links (secrets come from Secret Manager, above).
locals {
  function_env = {
    digest = {
      SMTP_HOST     = var.smtp_host
      SMTP_PORT     = tostring(var.smtp_port)
      SMTP_TLS      = var.smtp_tls
      SMTP_USER     = var.smtp_user
      SMTP_FROM     = var.smtp_from
      DASHBOARD_URL = "https://${local.dashboard_host}"
    }
  }
}

resource "google_cloud_scheduler_job" "function" {
  for_each = { for name, f in var.functions : name => f if f.schedule != null && contains(keys(module.topology.functions), name) }

  project          = var.project_id
  region           = var.region
  name             = "${var.name_prefix}-${each.key}"
  description      = "Calls the ${each.key} function on schedule."
  schedule         = each.value.schedule
  time_zone        = coalesce(var.scheduler_time_zone, var.timezone)
  attempt_deadline = "${min(each.value.timeout_sec + 30, 1800)}s"

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = module.function[each.key].url
    oidc_token {
      service_account_email = google_service_account.component["scheduler"].email
      audience              = module.function[each.key].url
    }
  }
}
