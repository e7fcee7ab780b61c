output "topics" {
  description = "Pipeline topics (name => description), without the dead-letter topics."
  value       = local.topics

  precondition {
    condition     = length(local.unknown_topics) == 0
    error_message = "These topics are used but not declared under topics: in the topology file: ${join(", ", local.unknown_topics)}."
  }
}

output "dead_letter_topics" {
  description = "Dead-letter topics named by the subscriptions; each also gets a pull subscription of the same name."
  value       = local.dead_letter_topics
}

output "subscriptions" {
  description = "Subscriptions with their retry and dead-letter settings (defaults applied) and the function each one pushes to (null for pull)."
  value       = local.subscriptions

  precondition {
    condition     = length(local.shared_triggers) == 0
    error_message = "More than one function names these subscriptions as trigger: ${join(", ", local.shared_triggers)}."
  }
  precondition {
    condition     = length(local.bad_pull_consumers) == 0
    error_message = "These pull consumers name a subscription that does not exist or that pushes to a function: ${join(", ", local.bad_pull_consumers)}."
  }
}

output "object_prefixes" {
  description = "The audio bucket's object prefixes by kind (chunks, dialogues)."
  value       = local.object_prefixes
}

output "notifications" {
  description = "Bucket notifications: topic, object prefix, event types and payload format."
  value       = local.notifications
}

output "functions" {
  description = "Functions: trigger, whether HTTP, and for event functions the subscription and topic they consume."
  value       = local.functions

  precondition {
    condition     = length(local.bad_triggers) == 0
    error_message = "These functions name a trigger that is neither http nor a subscription: ${join(", ", local.bad_triggers)}."
  }
  precondition {
    condition     = length(local.missing_settings) == 0
    error_message = "These functions of the topology have no entry in var.functions (memory, timeout, roles): ${join(", ", local.missing_settings)}."
  }
  precondition {
    condition     = length(local.public_non_http) == 0
    error_message = "Only HTTP functions can be public or scheduled; not: ${join(", ", local.public_non_http)}."
  }
  precondition {
    condition     = length(local.slow_consumers) == 0
    error_message = "These event functions may run longer than their subscription's ack deadline, so Pub/Sub would redeliver while they work: ${join(", ", local.slow_consumers)}."
  }
}
