# Every IAM grant of the deployment, as data: member, role, resource and condition. The
# root creates one IAM member per entry (iam.tf); docs/permissions.md says which call
# needs which permission, and tests/test_permissions.py holds these grants to it.
#
# Members: "fn:NAME" (a function's runtime account), "asr", "dashboard", "push" (the OIDC
# identity of Pub/Sub push), "scheduler", "builder" (Cloud Build), the service agents
# "agent:pubsub", "agent:scheduler", "agent:gcs", and "public" (allUsers).

locals {
  fn = { for name, f in var.functions : name => merge(f, var.function_settings[name]) }

  # IAM conditions on object names: a grant on the bucket that reaches only one prefix.
  object_names = {
    for kind, prefix in var.object_prefixes :
    kind => "resource.name.startsWith(\"projects/_/buckets/${var.bucket}/objects/${prefix}\")"
  }

  object_specs = concat(
    [for name, f in local.fn : { member = "fn:${name}", role = "roles/storage.objectViewer", kinds = f.bucket_reads } if length(f.bucket_reads) > 0],
    [for name, f in local.fn : { member = "fn:${name}", role = "roles/storage.objectCreator", kinds = f.bucket_creates } if length(f.bucket_creates) > 0],
    # The ASR worker downloads dialogue audio; the dashboard signs GET URLs for it.
    [{ member = "asr", role = "roles/storage.objectViewer", kinds = ["dialogues"] }],
    [{ member = "dashboard", role = "roles/storage.objectViewer", kinds = ["dialogues"] }],
  )
  bucket_grants = {
    for g in local.object_specs : "${g.member} ${g.role} on bucket audio" => {
      member   = g.member
      role     = g.role
      on       = "bucket"
      resource = "audio"
      condition = {
        title       = "only ${join(" and ", [for k in sort(g.kinds) : var.object_prefixes[k]])}"
        description = "Objects under ${join(", ", [for k in sort(g.kinds) : var.object_prefixes[k]])} only."
        expression  = join(" || ", [for k in sort(g.kinds) : local.object_names[k]])
      }
    }
  }

  topic_specs = concat(
    flatten([for name, f in local.fn : [for t in f.publishes : { member = "fn:${name}", topic = t }]]),
    [for t in var.asr_publishes : { member = "asr", topic = t }],
    [for t in var.dashboard_publishes : { member = "dashboard", topic = t }],
    [for t in var.notification_topics : { member = "agent:gcs", topic = t }],
    # Dead-lettering: Pub/Sub's service agent publishes the failed message.
    [for t in var.dead_letter_topics : { member = "agent:pubsub", topic = t }],
  )
  topic_grants = {
    for g in local.topic_specs : "${g.member} roles/pubsub.publisher on topic ${g.topic}" => {
      member = g.member, role = "roles/pubsub.publisher", on = "topic", resource = g.topic, condition = null
    }
  }

  subscription_specs = concat(
    [{ member = "asr", subscription = var.asr_subscription }],
    # The dashboard counts what waits in each dead-letter subscription (a pull it releases).
    [for s in var.dead_letter_topics : { member = "dashboard", subscription = s }],
    # Dead-lettering: the service agent acknowledges the message on its source.
    [for s in keys(var.subscriptions) : { member = "agent:pubsub", subscription = s }],
  )
  subscription_grants = {
    for g in local.subscription_specs : "${g.member} roles/pubsub.subscriber on subscription ${g.subscription}" => {
      member = g.member, role = "roles/pubsub.subscriber", on = "subscription", resource = g.subscription, condition = null
    }
  }

  secret_specs = concat(
    flatten([for name, f in local.fn : [for s in f.secrets : { member = "fn:${name}", secret = s } if contains(var.secrets, s)]]),
    [{ member = "asr", secret = "DATABASE_URL" }],
    [for s in ["DATABASE_URL", "DASHBOARD_COOKIE_SECRET"] : { member = "dashboard", secret = s }],
    # The self-hosted LLM server reads the key it demands of its clients.
    var.llm_deployed ? [{ member = "llm", secret = "OPENAI_API_KEY" }] : [],
  )
  secret_grants = {
    for g in local.secret_specs : "${g.member} roles/secretmanager.secretAccessor on secret ${g.secret}" => {
      member = g.member, role = "roles/secretmanager.secretAccessor", on = "secret", resource = g.secret, condition = null
    }
  }

  account_specs = concat(
    # Signing URLs through IAM signBlob as itself (no key file in the cloud).
    [for name, f in local.fn : { member = "fn:${name}", role = "roles/iam.serviceAccountTokenCreator", account = "fn:${name}" } if f.sign_urls],
    [{ member = "dashboard", role = "roles/iam.serviceAccountTokenCreator", account = "dashboard" }],
    # The service agents mint the OIDC tokens of push requests and scheduler calls.
    [{ member = "agent:pubsub", role = "roles/iam.serviceAccountOpenIdTokenCreator", account = "push" }],
    [{ member = "agent:scheduler", role = "roles/iam.serviceAccountOpenIdTokenCreator", account = "scheduler" }],
  )
  account_grants = {
    for g in local.account_specs : "${g.member} ${g.role} on service account ${g.account}" => {
      member = g.member, role = g.role, on = "service_account", resource = g.account, condition = null
    }
  }

  run_specs = concat(
    [for name, f in local.fn : { member = "push", service = name } if !f.http],
    [for name, f in local.fn : { member = "scheduler", service = name } if f.schedule != null],
    [for name, f in local.fn : { member = "public", service = name } if f.public],
    # The dashboard has its own login; Cloud Run lets everyone reach it.
    var.dashboard_deployed ? [{ member = "public", service = "dashboard" }] : [],
  )
  run_grants = {
    for g in local.run_specs : "${g.member} roles/run.invoker on service ${g.service}" => {
      member = g.member, role = "roles/run.invoker", on = "run_service", resource = g.service, condition = null
    }
  }

  # Project level only where no resource of this deployment can carry the grant: the
  # build writes to repositories and buckets Cloud Functions creates itself; log entries
  # and metrics have no resource-level IAM.
  project_specs = concat(
    [
      { member = "builder", role = "roles/run.builder" },
      { member = "asr", role = "roles/logging.logWriter" },
      { member = "asr", role = "roles/monitoring.metricWriter" },
    ],
    var.llm_deployed ? [
      { member = "llm", role = "roles/logging.logWriter" },
      { member = "llm", role = "roles/monitoring.metricWriter" },
    ] : [],
  )
  project_grants = {
    for g in local.project_specs : "${g.member} ${g.role} on the project" => {
      member = g.member, role = g.role, on = "project", resource = "project", condition = null
    }
  }

  repository_grants = {
    "asr roles/artifactregistry.reader on repository images" = {
      member = "asr", role = "roles/artifactregistry.reader", on = "repository", resource = "images", condition = null
    }
  }

  all = merge(
    local.bucket_grants, local.topic_grants, local.subscription_grants, local.secret_grants,
    local.account_grants, local.run_grants, local.project_grants, local.repository_grants,
  )

  unknown_prefixes = distinct([
    for g in local.object_specs : g.member if length(setsubtract(g.kinds, keys(var.object_prefixes))) > 0
  ])
}
