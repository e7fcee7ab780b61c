output "base_url" {
  description = "OpenAI-compatible base URL of the server, for OPENAI_BASE_URL."
  value       = "http://${google_compute_address.internal.address}:8000/v1"
}

output "instance" {
  description = "Self link of the LLM server VM."
  value       = google_compute_instance.server.self_link
}
