variable "tier" {
  description = "Cloud SQL machine tier (db-f1-micro, db-g1-small, db-custom-CPUS-MEMORY_MB), whose default max_connections the budget starts from."
  type        = string
}

variable "max_connections" {
  description = "An explicit max_connections flag, or null for the tier's default."
  type        = number
  default     = null
}

variable "reserve" {
  description = "Connections kept free for superusers (Cloud SQL's agents) and an operator."
  type        = number
}

variable "consumers" {
  description = "Each component that connects (name => its pool size per instance and its most instances)."
  type = map(object({
    pool      = number
    instances = number
  }))
}
