output "name" {
  description = "Name of the audio bucket (AUDIO_BUCKET)."
  value       = google_storage_bucket.audio.name
}

output "url" {
  description = "gs:// URL of the audio bucket."
  value       = google_storage_bucket.audio.url
}
