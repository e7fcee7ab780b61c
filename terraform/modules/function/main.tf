# The deployed archive: functions/<name>/ at the root, salescontrol/ beside main.py,
# and one requirements.txt. Built from the working tree on every plan, so the code
# deployed is the code the tests ran; nothing is copied into the repository.
data "archive_file" "source" {
  type        = "zip"
  output_path = "${var.build_dir}/${var.name}.zip"

  dynamic "source" {
    for_each = var.files
    content {
      filename = source.key
      content  = source.value
    }
  }
}

resource "google_storage_bucket_object" "source" {
  # The content hash in the name makes a code change redeploy the function.
  name   = "functions/${var.name}-${data.archive_file.source.output_md5}.zip"
  bucket = var.source_bucket
  source = data.archive_file.source.output_path
}

resource "google_cloudfunctions2_function" "this" {
  project  = var.project_id
  location = var.region
  name     = var.name
  labels   = var.labels

  build_config {
    runtime         = var.runtime
    entry_point     = var.name
    service_account = var.build_service_account
    # Serve the entry point as a CloudEvent function: Pub/Sub push requests are turned
    # into google.cloud.pubsub.topic.v1.messagePublished events, exactly as locally.
    environment_variables = var.cloudevent ? { GOOGLE_FUNCTION_SIGNATURE_TYPE = "cloudevent" } : {}
    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = var.memory
    timeout_seconds                  = var.timeout_sec
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = 1
    service_account_email            = var.service_account_email
    environment_variables            = var.env
    # Public only for the ingest API; event and scheduled functions accept requests
    # from inside the project (Pub/Sub push, Cloud Scheduler) and IAM decides who.
    ingress_settings               = var.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    vpc_connector                  = var.vpc_connector
    vpc_connector_egress_settings  = "PRIVATE_RANGES_ONLY"

    dynamic "secret_environment_variables" {
      for_each = var.secret_env
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }
}
