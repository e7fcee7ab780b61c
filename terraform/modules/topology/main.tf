locals {
  raw      = yamldecode(file(var.topology_file))
  defaults = local.raw.subscription_defaults

  topics = local.raw.topics

  # Subscription attributes: the subscription's own value, else subscription_defaults,
  # the same precedence as salescontrol/topology.py.
  subscriptions = {
    for name, spec in local.raw.subscriptions : name => {
      topic                 = spec.topic
      ack_deadline_sec      = spec.ack_deadline_sec
      dead_letter_topic     = spec.dead_letter_topic
      max_delivery_attempts = lookup(spec, "max_delivery_attempts", local.defaults.max_delivery_attempts)
      min_backoff_sec       = lookup(spec, "min_backoff_sec", local.defaults.min_backoff_sec)
      max_backoff_sec       = lookup(spec, "max_backoff_sec", local.defaults.max_backoff_sec)
      message_retention_sec = lookup(spec, "message_retention_sec", local.defaults.message_retention_sec)
      # The function this subscription pushes to; null means a pull subscription.
      push_function = try([for fname, f in local.raw.functions : fname if f.trigger == name][0], null)
    }
  }

  # Every dead-letter topic gets a pull subscription of the same name, where failed
  # messages wait for inspection.
  dead_letter_topics = toset([for s in local.subscriptions : s.dead_letter_topic])

  # The bucket's layout (chunks/, dialogues/): lifecycle rules and notifications use it.
  object_prefixes = local.raw.object_prefixes

  notifications = [
    for n in local.raw.bucket_notifications : {
      topic          = n.topic
      object_prefix  = n.object_prefix
      event_types    = n.event_types
      payload_format = n.payload_format
    }
  ]

  functions = {
    for name, f in local.raw.functions : name => {
      trigger      = f.trigger
      http         = f.trigger == "http"
      subscription = f.trigger == "http" ? null : f.trigger
      topic        = try(local.raw.subscriptions[f.trigger].topic, null)
    }
  }

  bad_triggers = [
    for name, f in local.raw.functions : "${name} (trigger ${f.trigger})"
    if f.trigger != "http" && !contains(keys(local.raw.subscriptions), f.trigger)
  ]
  shared_triggers = [
    for sub in keys(local.raw.subscriptions) : sub
    if length([for f in local.raw.functions : f if f.trigger == sub]) > 1
  ]
  unknown_topics = distinct(concat(
    [for s in local.raw.subscriptions : s.topic if !contains(keys(local.topics), s.topic)],
    [for n in local.notifications : n.topic if !contains(keys(local.topics), n.topic)],
    [for t in flatten(values(var.function_settings)[*].publishes) : t if !contains(keys(local.topics), t)],
    [for t in flatten(values(var.pull_consumers)) : t if !contains(keys(local.topics), t)],
  ))
  missing_settings = setsubtract(keys(local.functions), keys(var.function_settings))
  public_non_http = [
    for name, s in var.function_settings : name
    if(s.public || s.schedule != null) && !try(local.functions[name].http, true)
  ]
  # Pub/Sub waits ack_deadline_sec for a push response; a function allowed to run longer
  # would be redelivered while still working.
  slow_consumers = [
    for name, f in local.functions : "${name} (${var.function_settings[name].timeout_sec} s > ${local.subscriptions[f.subscription].ack_deadline_sec} s)"
    if !f.http && contains(keys(var.function_settings), name) && try(var.function_settings[name].timeout_sec > local.subscriptions[f.subscription].ack_deadline_sec, false)
  ]
  bad_pull_consumers = [
    for sub in keys(var.pull_consumers) : sub
    if try(local.subscriptions[sub].push_function != null, true)
  ]
}
