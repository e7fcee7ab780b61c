resource "google_pubsub_topic" "pipeline" {
  # checkov:skip=CKV_GCP_83:Google-managed encryption; messages hold ids and object names, not audio or text.
  for_each = var.topics

  project = var.project_id
  name    = each.key
  labels  = var.labels
}

resource "google_pubsub_topic" "dead_letter" {
  # checkov:skip=CKV_GCP_83:Google-managed encryption; messages hold ids and object names, not audio or text.
  for_each = var.dead_letter_topics

  project = var.project_id
  name    = each.key
  labels  = var.labels
}

# A push subscription when a function names it as trigger (OIDC-authenticated POST of
# the standard Pub/Sub envelope, which functions-framework turns into a CloudEvent, as
# locally), else a pull subscription (the ASR worker's).
resource "google_pubsub_subscription" "pipeline" {
  for_each = var.subscriptions

  project                    = var.project_id
  name                       = each.key
  topic                      = google_pubsub_topic.pipeline[each.value.topic].id
  ack_deadline_seconds       = each.value.ack_deadline_sec
  message_retention_duration = "${each.value.message_retention_sec}s"
  labels                     = var.labels

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.dead_letter_topic].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = "${each.value.min_backoff_sec}s"
    maximum_backoff = "${each.value.max_backoff_sec}s"
  }

  dynamic "push_config" {
    for_each = each.value.push_function == null ? [] : [each.value.push_function]
    content {
      push_endpoint = var.push_endpoints[push_config.value]
      oidc_token {
        service_account_email = var.push_service_account
        audience              = var.push_endpoints[push_config.value]
      }
    }
  }

  expiration_policy {
    ttl = "" # never expire, even when idle for a long time
  }
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each = var.dead_letter_topics

  project                    = var.project_id
  name                       = each.key
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  message_retention_duration = "604800s"
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }
}
