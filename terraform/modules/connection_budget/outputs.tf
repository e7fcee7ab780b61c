output "max_connections" {
  description = "The instance's max_connections: the explicit flag, else the tier's default."
  value       = local.max_connections

  precondition {
    condition     = local.max_connections > 0
    error_message = "The default max_connections of tier ${var.tier} is not known here: set db_max_connections."
  }
}

output "total" {
  description = "Connections all components may hold at once (pool x instances, summed)."
  value       = local.total

  precondition {
    condition     = local.total <= local.budget
    error_message = "The components may open ${local.total} database connections, more than ${local.budget} (max_connections ${local.max_connections} of ${var.tier} minus a reserve of ${var.reserve}): ${local.detail}. Lower max_instances or pool sizes, or choose a larger db_tier or db_max_connections."
  }
}

output "by_consumer" {
  description = "Connections per component (pool x instances)."
  value       = local.by_consumer
}
