output "instance_group" {
  description = "Self link of the ASR managed instance group."
  value       = google_compute_instance_group_manager.workers.instance_group
}

output "instance_template" {
  description = "Self link of the current ASR instance template."
  value       = google_compute_instance_template.worker.self_link
}
