# Secrets the components read as environment variables. Their values pass through the
# Terraform state: keep the state in a bucket only operators can read.

locals {
  secret_values = {
    DATABASE_URL            = module.cloudsql.database_url
    ADMIN_TOKEN             = var.admin_token
    OPENAI_API_KEY          = var.openai_api_key
    DASHBOARD_COOKIE_SECRET = random_password.dashboard_cookie_secret.result
    SMTP_PASSWORD           = var.smtp_password
    TELEGRAM_BOT_TOKEN      = var.telegram_bot_token
  }
  secret_names = [
    "DATABASE_URL", "ADMIN_TOKEN", "OPENAI_API_KEY", "DASHBOARD_COOKIE_SECRET", "SMTP_PASSWORD",
    "TELEGRAM_BOT_TOKEN",
  ]
  # The optional ones are only handed out when set: without OPENAI_API_KEY analysis uses
  # the rules, without the others the digest skips that channel. Whether a value is empty
  # is no secret, so it may decide what exists.
  optional_secrets = {
    OPENAI_API_KEY     = nonsensitive(var.openai_api_key != "")
    SMTP_PASSWORD      = nonsensitive(var.smtp_password != "")
    TELEGRAM_BOT_TOKEN = nonsensitive(var.telegram_bot_token != "")
  }
  available_secrets = toset([for name in local.secret_names : name if lookup(local.optional_secrets, name, true)])
}

resource "google_secret_manager_secret" "app" {
  for_each = toset(local.secret_names)

  project   = var.project_id
  secret_id = "${var.name_prefix}-${lower(replace(each.key, "_", "-"))}"
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "app" {
  for_each = local.available_secrets

  secret      = google_secret_manager_secret.app[each.key].id
  secret_data = local.secret_values[each.key]
}

# The database password alone, for operators (migrations through the Auth Proxy).
resource "google_secret_manager_secret" "db_password" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-db-password"
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "db_password" {
  secret      = google_secret_manager_secret.db_password.id
  secret_data = module.cloudsql.password
}

# Signs the dashboard's cookies and sessions: its own secret, never the admin API's token.
resource "random_password" "dashboard_cookie_secret" {
  length  = 64
  special = false
}
