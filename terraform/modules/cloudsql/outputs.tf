output "connection_name" {
  description = "Instance connection name PROJECT:REGION:INSTANCE, for the Cloud SQL Auth Proxy."
  value       = google_sql_database_instance.main.connection_name
}

output "private_ip" {
  description = "Private IP address of the instance inside the VPC."
  value       = google_sql_database_instance.main.private_ip_address
}

output "password" {
  description = "Password of the application user."
  value       = random_password.app.result
  sensitive   = true
}

output "database_url" {
  description = "DATABASE_URL (pg8000 over the private IP) for the functions, the dashboard and the ASR worker."
  value       = "postgresql+pg8000://${google_sql_user.app.name}:${random_password.app.result}@${google_sql_database_instance.main.private_ip_address}:5432/${google_sql_database.app.name}"
  sensitive   = true
}

output "server_ca_cert" {
  description = "PEM certificate of the CA that signs the instance's server certificate (DATABASE_SSL_CA)."
  value       = google_sql_database_instance.main.server_ca_cert[0].cert
}
