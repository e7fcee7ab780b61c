output "url" {
  description = "HTTPS URL of the function (the push endpoint and OIDC audience for event functions)."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "source_object" {
  description = "Object name of the deployed source archive in the source bucket."
  value       = google_storage_bucket_object.source.name
}

output "service_name" {
  description = "Name of the Cloud Run service that serves the function (IAM invoker grants go there)."
  value       = google_cloudfunctions2_function.this.name
}
