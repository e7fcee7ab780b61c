# SalesControl on Google Cloud. The messaging (topics, subscriptions, dead letters,
# retry policies, the bucket notification, which function consumes what) is read from
# salescontrol/topology.yaml, the file the local stack reads, so the two cannot drift.

locals {
  repo_root     = abspath("${path.module}/..")
  topology_file = coalesce(var.topology_file, "${local.repo_root}/salescontrol/topology.yaml")
  bucket_name   = coalesce(var.audio_bucket_name, "${var.project_id}-audio")
  registry      = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"

  # The environment every component shares; secrets come from Secret Manager. Postgres
  # is reached over TLS whose server certificate must chain to the instance's CA (one
  # line, newlines written \n, so that the ASR worker's env file can hold it).
  common_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    AUDIO_BUCKET         = local.bucket_name
    LOG_LEVEL            = var.log_level
    LOG_FORMAT           = "json"
    DATABASE_SSL         = "verify-ca"
    DATABASE_SSL_CA      = replace(trimspace(module.cloudsql.server_ca_cert), "\n", "\\n")
    # The shops' days: the same in the dashboard, the analytics API and the digest.
    DASHBOARD_TIMEZONE = var.timezone
  }

  # Database connections per process (DB_POOL_SIZE), one setting per component: the
  # same numbers go into each component's environment and into the connection budget.
  db_pools = merge(
    { for name, f in var.functions : name => { pool = f.db_pool_size, instances = f.max_instances } if contains(keys(module.topology.functions), name) },
    {
      asr       = { pool = var.asr_db_pool_size, instances = var.asr_max_instances }
      dashboard = { pool = var.dashboard_db_pool_size, instances = var.dashboard_max_instances }
      # `python -m salescontrol migrate` from an operator's machine, one connection.
      migrate = { pool = 1, instances = 1 }
    },
  )
  db_env = {
    for name, c in local.db_pools : name => { DB_POOL_SIZE = tostring(c.pool), DB_MAX_OVERFLOW = "0" }
  }
}

# Every pool times every instance must fit in the tier's max_connections minus a reserve:
# plan fails with the sum per component otherwise.
module "connection_budget" {
  source = "./modules/connection_budget"

  tier            = var.db_tier
  max_connections = var.db_max_connections
  reserve         = var.db_connection_reserve
  consumers       = local.db_pools
}

data "google_project" "this" {
  project_id = var.project_id
}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com", # signBlob for the signed upload URLs
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
    "vpcaccess.googleapis.com",
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

module "topology" {
  source = "./modules/topology"

  topology_file = local.topology_file
  function_settings = {
    for name, f in var.functions : name => {
      public = f.public, schedule = f.schedule, publishes = f.publishes, timeout_sec = f.timeout_sec
    }
  }
  pull_consumers = { (var.asr_subscription) = var.asr_publishes }
}

module "pubsub" {
  source = "./modules/pubsub"

  project_id           = var.project_id
  topics               = module.topology.topics
  dead_letter_topics   = module.topology.dead_letter_topics
  subscriptions        = module.topology.subscriptions
  push_endpoints       = { for name, f in module.function : name => f.url }
  push_service_account = google_service_account.component["push"].email
  labels               = var.labels

  depends_on = [google_project_service.apis]
}

module "bucket" {
  source = "./modules/bucket"

  project_id              = var.project_id
  name                    = local.bucket_name
  location                = var.region
  chunk_retention_days    = var.chunk_retention_days
  dialogue_retention_days = var.dialogue_retention_days
  object_prefixes         = module.topology.object_prefixes
  notifications           = module.topology.notifications
  topic_ids               = module.pubsub.topic_ids
  labels                  = var.labels

  # A notification is refused until the Cloud Storage service agent may publish.
  depends_on = [google_project_service.apis, google_pubsub_topic_iam_member.grant]
}

module "cloudsql" {
  source = "./modules/cloudsql"

  project_id             = var.project_id
  region                 = var.region
  instance_name          = "${var.name_prefix}-pg"
  tier                   = var.db_tier
  availability_type      = var.db_availability_type
  disk_size_gb           = var.db_disk_size_gb
  backup_retention_count = var.db_backup_retention_count
  network_id             = google_compute_network.main.id
  public_ip              = var.db_public_ip
  max_connections        = var.db_max_connections
  database_name          = "salescontrol"
  user_name              = "salescontrol"
  labels                 = var.labels

  depends_on = [google_service_networking_connection.private_services]
}

resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84:Google-managed encryption; Cloud KMS keys are an option a deployment may add, not a need.
  project       = var.project_id
  location      = var.region
  repository_id = var.name_prefix
  format        = "DOCKER"
  description   = "SalesControl container images: asr, asr-cpu, dashboard."
  labels        = var.labels

  depends_on = [google_project_service.apis]
}
