variable "topology_file" {
  description = "Path of the topology YAML file (salescontrol/topology.yaml) that the local stack reads too."
  type        = string

  validation {
    condition     = fileexists(var.topology_file)
    error_message = "The topology file does not exist."
  }
}

variable "function_settings" {
  description = "Per-function deployment settings keyed by function name; only the keys, `public`, `schedule`, `publishes` and `timeout_sec` are checked here against the topology."
  type = map(object({
    public      = bool
    schedule    = string
    publishes   = list(string)
    timeout_sec = number
  }))
}

variable "pull_consumers" {
  description = "Subscriptions pulled by a long-running worker outside Cloud Functions (the ASR VM), each with the topics that worker publishes to."
  type        = map(list(string))
  default     = {}
}
