variable "project_id" {
  description = "ID of the Google Cloud project that holds the topics and subscriptions."
  type        = string
}

variable "topics" {
  description = "Pipeline topics from the topology (name => description)."
  type        = map(string)
}

variable "dead_letter_topics" {
  description = "Dead-letter topics from the topology; each gets a pull subscription of the same name."
  type        = set(string)
}

variable "subscriptions" {
  description = "Subscriptions from the topology module, with defaults applied and the function each pushes to (null for pull)."
  type = map(object({
    topic                 = string
    ack_deadline_sec      = number
    dead_letter_topic     = string
    max_delivery_attempts = number
    min_backoff_sec       = number
    max_backoff_sec       = number
    message_retention_sec = number
    push_function         = optional(string)
  }))
}

variable "push_endpoints" {
  description = "HTTPS URL of each function that a subscription pushes to (function name => Cloud Run URL)."
  type        = map(string)
}

variable "push_service_account" {
  description = "Email of the service account whose OIDC token Pub/Sub attaches to push requests; only it may invoke the event functions."
  type        = string
}

variable "labels" {
  description = "Labels put on every topic and subscription."
  type        = map(string)
  default     = {}
}
