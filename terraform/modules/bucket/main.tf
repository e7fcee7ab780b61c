resource "google_storage_bucket" "audio" {
  project                     = var.project_id
  name                        = var.name
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  lifecycle_rule {
    condition {
      age            = var.chunk_retention_days
      matches_prefix = [var.object_prefixes.chunks]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.dialogue_retention_days
      matches_prefix = [var.object_prefixes.dialogues]
    }
    action {
      type = "Delete"
    }
  }
}

# The GCS service agent publishes the notifications: it needs publisher on each topic.
data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

resource "google_pubsub_topic_iam_member" "gcs_publisher" {
  for_each = toset([for n in var.notifications : n.topic])

  topic  = var.topic_ids[each.key]
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

resource "google_storage_notification" "topology" {
  for_each = { for n in var.notifications : "${n.topic}:${n.object_prefix}" => n }

  bucket             = google_storage_bucket.audio.name
  topic              = var.topic_ids[each.value.topic]
  object_name_prefix = each.value.object_prefix
  event_types        = each.value.event_types
  payload_format     = each.value.payload_format

  depends_on = [google_pubsub_topic_iam_member.gcs_publisher]
}
