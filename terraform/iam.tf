# One service account per component, and one IAM member per entry of modules/grants:
# who gets which role on which resource, with an object-name condition where a grant on
# the bucket would reach more than one prefix. docs/permissions.md maps each call a
# component makes to the permission it needs; tests/test_permissions.py checks these
# grants against it. No basic roles, no authoritative bindings.

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

# The Cloud Storage service agent, which publishes the bucket's notifications.
data "google_storage_project_service_account" "gcs" {
  project = var.project_id

  depends_on = [google_project_service.apis]
}

module "grants" {
  source = "./modules/grants"

  bucket              = local.bucket_name
  object_prefixes     = module.topology.object_prefixes
  functions           = module.topology.functions
  function_settings   = var.functions
  secrets             = local.available_secrets
  subscriptions       = module.topology.subscriptions
  dead_letter_topics  = module.topology.dead_letter_topics
  notification_topics = toset([for n in module.topology.notifications : n.topic])
  asr_subscription    = var.asr_subscription
  asr_publishes       = var.asr_publishes
  dashboard_publishes = var.dashboard_publishes
  dashboard_deployed  = var.deploy_images
  llm_deployed        = local.llm_enabled
}

locals {
  project_number = data.google_project.this.number
  members = merge(
    { for name, sa in google_service_account.function : "fn:${name}" => sa.member },
    { for key, sa in google_service_account.component : key => sa.member },
    { for sa in google_service_account.llm : "llm" => sa.member },
    {
      "agent:pubsub"    = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
      "agent:scheduler" = "serviceAccount:service-${local.project_number}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
      "agent:gcs"       = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
      public            = "allUsers"
    },
  )
  service_accounts = merge(
    { for name, sa in google_service_account.function : "fn:${name}" => sa.name },
    { for key, sa in google_service_account.component : key => sa.name },
  )
  topic_ids        = merge(module.pubsub.topic_ids, module.pubsub.dead_letter_topic_ids)
  subscription_ids = merge(module.pubsub.subscription_ids, module.pubsub.dead_letter_subscription_ids)
  run_services = merge(
    { for name, f in module.function : name => f.service_name },
    { for s in google_cloud_run_v2_service.dashboard : "dashboard" => s.name },
  )
  grants = module.grants.grants
}

resource "google_storage_bucket_iam_member" "grant" {
  for_each = { for key, g in local.grants : key => g if g.on == "bucket" }

  bucket = module.bucket.name
  role   = each.value.role
  member = local.members[each.value.member]

  dynamic "condition" {
    for_each = each.value.condition == null ? [] : [each.value.condition]
    content {
      title       = condition.value.title
      description = condition.value.description
      expression  = condition.value.expression
    }
  }
}

resource "google_pubsub_topic_iam_member" "grant" {
  for_each = { for key, g in local.grants : key => g if g.on == "topic" }

  project = var.project_id
  topic   = local.topic_ids[each.value.resource]
  role    = each.value.role
  member  = local.members[each.value.member]
}

resource "google_pubsub_subscription_iam_member" "grant" {
  for_each = { for key, g in local.grants : key => g if g.on == "subscription" }

  project      = var.project_id
  subscription = local.subscription_ids[each.value.resource]
  role         = each.value.role
  member       = local.members[each.value.member]
}

resource "google_secret_manager_secret_iam_member" "grant" {
  for_each = { for key, g in local.grants : key => g if g.on == "secret" }

  project   = var.project_id
  secret_id = google_secret_manager_secret.app[each.value.resource].secret_id
  role      = each.value.role
  member    = local.members[each.value.member]
}

resource "google_service_account_iam_member" "grant" {
  for_each = { for key, g in local.grants : key => g if g.on == "service_account" }

  service_account_id = local.service_accounts[each.value.resource]
  role               = each.value.role
  member             = local.members[each.value.member]
}

resource "google_cloud_run_v2_service_iam_member" "grant" {
  for_each = { for key, g in local.grants : key => g if g.on == "run_service" }

  project  = var.project_id
  location = var.region
  name     = local.run_services[each.value.resource]
  role     = each.value.role
  member   = local.members[each.value.member]
}

resource "google_project_iam_member" "grant" {
  for_each = { for key, g in local.grants : key => g if g.on == "project" }

  project = var.project_id
  role    = each.value.role
  member  = local.members[each.value.member]
}

resource "google_artifact_registry_repository_iam_member" "grant" {
  for_each = { for key, g in local.grants : key => g if g.on == "repository" }

  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = each.value.role
  member     = local.members[each.value.member]
}
