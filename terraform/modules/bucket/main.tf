resource "google_storage_bucket" "audio" {
  # checkov:skip=CKV_GCP_62:Object access is in Cloud Audit Logs (Data Access logs); no second bucket for usage logs.
  # checkov:skip=CKV_GCP_78:Versions would keep erased and expired recordings (152-FZ/GDPR); objects are write-once.
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

# The Cloud Storage service agent's publisher grant on each topic is made in the root
# (modules/grants); the root makes this module wait for it.
resource "google_storage_notification" "topology" {
  for_each = { for n in var.notifications : "${n.topic}:${n.object_prefix}" => n }

  bucket             = google_storage_bucket.audio.name
  topic              = var.topic_ids[each.value.topic]
  object_name_prefix = each.value.object_prefix
  event_types        = each.value.event_types
  payload_format     = each.value.payload_format
}
