output "ingest_url" {
  description = "Base URL of the ingest API: the recorder's server.url and the admin API's host."
  value       = try(module.function["ingest"].url, null)
}

output "dashboard_url" {
  description = "URL of the dashboard (null until deploy_images is true): the deterministic run.app host its websocket origin allows."
  value       = var.deploy_images ? "https://${local.dashboard_host}/" : null
}

output "audio_bucket" {
  description = "The audio bucket (AUDIO_BUCKET): chunks/ and dialogues/."
  value       = module.bucket.name
}

output "subscriptions" {
  description = "Pipeline subscriptions and how each is consumed (push to a function, or pull by the ASR workers)."
  value       = module.pubsub.subscription_names
}

output "dead_letter_subscriptions" {
  description = "Pull subscriptions holding the messages that failed their last delivery attempt."
  value       = module.pubsub.dead_letter_subscription_names
}

output "function_urls" {
  description = "URL of every function."
  value       = { for name, f in module.function : name => f.url }
}

output "image_repository" {
  description = "Artifact Registry path to push the asr, asr-cpu and dashboard images to."
  value       = local.registry
}

output "cloudsql_connection_name" {
  description = "Cloud SQL instance connection name, for the Cloud SQL Auth Proxy when running migrations."
  value       = module.cloudsql.connection_name
}

output "db_password_secret" {
  description = "Secret Manager secret holding the database password (gcloud secrets versions access latest --secret=...)."
  value       = google_secret_manager_secret.db_password.secret_id
}

output "asr_instance_group" {
  description = "The ASR managed instance group (null until deploy_images is true)."
  value       = try(module.asr[0].instance_group, null)
}

output "connection_budget" {
  description = "Database connections each component may hold (pool x instances) and the instance's max_connections."
  value = {
    by_component    = module.connection_budget.by_consumer
    total           = module.connection_budget.total
    max_connections = module.connection_budget.max_connections
  }
}

output "llm_base_url" {
  description = "OPENAI_BASE_URL of the self-hosted LLM server (null without llm_server)."
  value       = local.llm_enabled ? module.llm_server[0].base_url : null
}
