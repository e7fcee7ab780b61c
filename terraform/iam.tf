# One service account per component, each with only the roles it needs, granted on the
# resource (topic, subscription, secret, bucket) wherever IAM allows. No basic roles.

resource "google_service_account" "function" {
  for_each = module.topology.functions

  project      = var.project_id
  account_id   = "${var.name_prefix}-fn-${each.key}"
  display_name = "SalesControl function ${each.key}"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "component" {
  for_each = {
    push      = "Pub/Sub push (OIDC identity that invokes event functions)"
    scheduler = "Cloud Scheduler (OIDC identity that invokes scheduled functions)"
    builder   = "Cloud Build (builds the functions)"
    asr       = "ASR workers"
    dashboard = "dashboard"
  }

  project      = var.project_id
  account_id   = "${var.name_prefix}-${each.key}"
  display_name = "SalesControl ${each.value}"

  depends_on = [google_project_service.apis]
}

locals {
  function_secret_grants = {
    for pair in flatten([
      for name, f in var.functions : [
        for s in f.secrets : { function = name, secret = s }
        if contains(local.available_secrets, s) && contains(keys(module.topology.functions), name)
      ]
    ]) : "${pair.function}:${pair.secret}" => pair
  }
  function_publish_grants = {
    for pair in flatten([
      for name, f in var.functions : [
        for t in f.publishes : { function = name, topic = t }
        if contains(keys(module.topology.functions), name)
      ]
    ]) : "${pair.function}:${pair.topic}" => pair
  }
  function_bucket_roles = {
    for name, f in var.functions : name => f.bucket_role
    if f.bucket_role != null && contains(keys(module.topology.functions), name)
  }
  url_signers = toset([
    for name, f in var.functions : name if f.sign_urls && contains(keys(module.topology.functions), name)
  ])
}

# Functions

resource "google_secret_manager_secret_iam_member" "function" {
  for_each = local.function_secret_grants

  project   = var.project_id
  secret_id = google_secret_manager_secret.app[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}

resource "google_pubsub_topic_iam_member" "function" {
  for_each = local.function_publish_grants

  project = var.project_id
  topic   = module.pubsub.topic_ids[each.value.topic]
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function[each.value.function].member
}

resource "google_storage_bucket_iam_member" "function" {
  for_each = local.function_bucket_roles

  bucket = module.bucket.name
  role   = each.value
  member = google_service_account.function[each.key].member
}

# Signing upload URLs through IAM signBlob: the function signs as itself, so it needs
# the token creator role on its own account only (SIGNING_KEY_FILE stays unset).
resource "google_service_account_iam_member" "url_signer" {
  for_each = local.url_signers

  service_account_id = google_service_account.function[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.function[each.key].member
}

# Cloud Build

resource "google_project_iam_member" "builder" {
  for_each = toset(["roles/cloudbuild.builds.builder", "roles/logging.logWriter", "roles/artifactregistry.writer"])

  project = var.project_id
  role    = each.value
  member  = google_service_account.component["builder"].member
}

resource "google_storage_bucket_iam_member" "builder_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.component["builder"].member
}

# ASR workers

resource "google_pubsub_subscription_iam_member" "asr" {
  project      = var.project_id
  subscription = module.pubsub.subscription_ids[var.asr_subscription]
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.component["asr"].member
}

resource "google_pubsub_topic_iam_member" "asr" {
  for_each = toset(var.asr_publishes)

  project = var.project_id
  topic   = module.pubsub.topic_ids[each.value]
  role    = "roles/pubsub.publisher"
  member  = google_service_account.component["asr"].member
}

resource "google_storage_bucket_iam_member" "asr" {
  bucket = module.bucket.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.component["asr"].member
}

resource "google_secret_manager_secret_iam_member" "asr" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.app["DATABASE_URL"].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.component["asr"].member
}

resource "google_artifact_registry_repository_iam_member" "asr" {
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.component["asr"].member
}

resource "google_project_iam_member" "asr" {
  for_each = toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"])

  project = var.project_id
  role    = each.value
  member  = google_service_account.component["asr"].member
}

# Dashboard

resource "google_secret_manager_secret_iam_member" "dashboard" {
  for_each = toset(["DATABASE_URL", "DASHBOARD_COOKIE_SECRET"])

  project   = var.project_id
  secret_id = google_secret_manager_secret.app[each.value].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.component["dashboard"].member
}

# Reads dialogue audio and signs short-lived playback URLs as itself.
resource "google_storage_bucket_iam_member" "dashboard" {
  bucket = module.bucket.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.component["dashboard"].member
}

resource "google_service_account_iam_member" "dashboard_signer" {
  service_account_id = google_service_account.component["dashboard"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.component["dashboard"].member
}
