output "grants" {
  description = "Every grant (a readable key => member, role, on, resource, condition): on is bucket, topic, subscription, secret, service_account, run_service, project or repository; condition is null or an IAM condition object."
  value       = local.all

  precondition {
    condition     = length(local.unknown_prefixes) == 0
    error_message = "These members read or create objects under a kind the topology's object_prefixes do not define: ${join(", ", local.unknown_prefixes)}."
  }
}
