# Every process holds at most its pool (DB_POOL_SIZE + DB_MAX_OVERFLOW, the overflow is 0
# in the cloud), so the worst case is the sum of pool x instances over the components. It
# must fit in max_connections minus a reserve, or a backlog (every function scaled out)
# ends in "remaining connection slots are reserved" and dead-lettered messages.

locals {
  # Cloud SQL for PostgreSQL's default max_connections by tier and memory
  # (https://cloud.google.com/sql/docs/postgres/quotas#maximum_concurrent_connections).
  custom_memory_mb = try(tonumber(regex("^db-custom-[0-9]+-([0-9]+)$", var.tier)[0]), null)
  tier_default = (
    var.tier == "db-f1-micro" ? 25 :
    var.tier == "db-g1-small" ? 50 :
    local.custom_memory_mb == null ? null :
    local.custom_memory_mb < 6144 ? 100 :
    local.custom_memory_mb < 7680 ? 200 :
    local.custom_memory_mb < 15360 ? 400 :
    local.custom_memory_mb < 30720 ? 500 :
    local.custom_memory_mb < 61440 ? 600 :
    local.custom_memory_mb < 122880 ? 800 : 1000
  )
  max_connections = coalesce(var.max_connections, local.tier_default, -1)
  by_consumer     = { for name, c in var.consumers : name => c.pool * c.instances }
  total           = sum(concat([0], values(local.by_consumer)))
  budget          = local.max_connections - var.reserve
  detail          = join(", ", [for name, n in local.by_consumer : "${name} ${var.consumers[name].pool} x ${var.consumers[name].instances} = ${n}"])
}
