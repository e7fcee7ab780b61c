output "topic_ids" {
  description = "Full IDs of the pipeline topics (name => projects/P/topics/name)."
  value       = { for name, t in google_pubsub_topic.pipeline : name => t.id }
}

output "topic_names" {
  description = "Names of the pipeline topics."
  value       = [for t in google_pubsub_topic.pipeline : t.name]
}

output "subscription_names" {
  description = "Pipeline subscription names (name => push or pull)."
  value       = { for name, s in var.subscriptions : name => s.push_function == null ? "pull" : "push to ${s.push_function}" }
}

output "dead_letter_subscription_names" {
  description = "Pull subscriptions holding the messages that failed max_delivery_attempts times."
  value       = [for s in google_pubsub_subscription.dead_letter : s.name]
}

output "subscription_ids" {
  description = "Full IDs of the pipeline subscriptions (name => projects/P/subscriptions/name)."
  value       = { for name, s in google_pubsub_subscription.pipeline : name => s.id }
}

output "dead_letter_topic_ids" {
  description = "Full IDs of the dead-letter topics (name => projects/P/topics/name)."
  value       = { for name, t in google_pubsub_topic.dead_letter : name => t.id }
}

output "dead_letter_subscription_ids" {
  description = "Full IDs of the dead-letter pull subscriptions (name => projects/P/subscriptions/name)."
  value       = { for name, s in google_pubsub_subscription.dead_letter : name => s.id }
}
