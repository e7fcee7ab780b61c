variable "project_id" {
  description = "ID of the Google Cloud project to deploy into (an empty project with billing enabled)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "A project ID has 6 to 30 lowercase letters, digits or hyphens and starts with a letter."
  }
}

variable "region" {
  description = "Region of the functions, Cloud SQL, the bucket, the dashboard and the image repository."
  type        = string
  default     = "europe-west4"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "The region must look like europe-west4."
  }
}

variable "name_prefix" {
  description = "Prefix of resource names that must be unique in the project (service accounts, instance, connector)."
  type        = string
  default     = "salescontrol"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,14}$", var.name_prefix))
    error_message = "The prefix has 3 to 15 lowercase letters, digits or hyphens and starts with a letter."
  }
}

variable "labels" {
  description = "Labels put on every resource that takes labels."
  type        = map(string)
  default     = { app = "salescontrol" }
}

variable "topology_file" {
  description = "Path of the topology YAML file; null means the repository's salescontrol/topology.yaml, the one the local stack reads."
  type        = string
  default     = null
}

variable "audio_bucket_name" {
  description = "Globally unique name of the audio bucket; null means PROJECT_ID-audio."
  type        = string
  default     = null

  validation {
    condition     = var.audio_bucket_name == null || can(regex("^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$", var.audio_bucket_name))
    error_message = "A bucket name has 3 to 63 lowercase letters, digits, dots, hyphens or underscores."
  }
}

variable "chunk_retention_days" {
  description = "Days after which raw chunks (chunks/) are deleted from the bucket; they are only needed until their dialogues are cut."
  type        = number
  default     = 14

  validation {
    condition     = var.chunk_retention_days >= 1 && floor(var.chunk_retention_days) == var.chunk_retention_days
    error_message = "The chunk retention is a whole number of days, at least 1."
  }
}

variable "dialogue_retention_days" {
  description = "Days after which dialogue audio (dialogues/) is deleted; transcripts and analyses stay in the database."
  type        = number
  default     = 180

  validation {
    condition     = var.dialogue_retention_days >= var.chunk_retention_days && floor(var.dialogue_retention_days) == var.dialogue_retention_days
    error_message = "The dialogue retention is a whole number of days, at least the chunk retention."
  }
}

variable "admin_token" {
  description = "Bearer token of the admin API (ADMIN_TOKEN), e.g. from `openssl rand -hex 32`; the dashboard has its own users and cookie secret."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.admin_token) >= 32
    error_message = "The admin token must be at least 32 characters long."
  }
}

variable "openai_api_key" {
  description = "OpenAI API key for the analyze function; empty leaves OPENAI_API_KEY unset, so analysis uses the offline rules analyzer."
  type        = string
  default     = ""
  sensitive   = true
}

variable "timezone" {
  description = "Time zone of the shops: the days of the dashboard, the analytics API and the daily digest (DASHBOARD_TIMEZONE), and the zone the functions' schedules are read in unless scheduler_time_zone says otherwise."
  type        = string
  default     = "Europe/Moscow"
}

variable "smtp_host" {
  description = "SMTP server the daily digest's e-mails go through; empty: the digest sends no e-mail."
  type        = string
  default     = ""
}

variable "smtp_port" {
  description = "Port of smtp_host (587 for STARTTLS, 465 for SMTPS)."
  type        = number
  default     = 587
}

variable "smtp_tls" {
  description = "How the digest talks to smtp_host: starttls, or ssl (SMTPS). Plain text is for local relays only and not offered here."
  type        = string
  default     = "starttls"

  validation {
    condition     = contains(["starttls", "ssl"], var.smtp_tls)
    error_message = "smtp_tls is starttls or ssl."
  }
}

variable "smtp_user" {
  description = "SMTP login of the digest; empty: none."
  type        = string
  default     = ""
}

variable "smtp_password" {
  description = "SMTP password of the digest; kept in Secret Manager and given to the digest function only."
  type        = string
  default     = ""
  sensitive   = true
}

variable "smtp_from" {
  description = "From address of the digest's e-mails."
  type        = string
  default     = ""
}

variable "telegram_bot_token" {
  description = "Token of the Telegram bot that sends the daily digest (from @BotFather); empty: no Telegram. Kept in Secret Manager, given to the digest function only."
  type        = string
  default     = ""
  sensitive   = true
}

variable "log_level" {
  description = "LOG_LEVEL of every function, the dashboard and the ASR worker."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "The log level is one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "function_runtime" {
  description = "Cloud Functions runtime of every function (the Python version the tests run on)."
  type        = string
  default     = "python311"

  validation {
    condition     = can(regex("^python3[0-9]+$", var.function_runtime))
    error_message = "The runtime is a Python runtime such as python311."
  }
}

variable "functions" {
  description = "Deployment settings of each function of the topology, by name: memory, timeout (s), instance bounds, database connections per instance, extra environment, secrets it reads (DATABASE_URL, ADMIN_TOKEN, OPENAI_API_KEY, SMTP_PASSWORD, TELEGRAM_BOT_TOKEN), topics it publishes to, the object prefixes of the audio bucket it reads and creates (chunks, dialogues), whether it signs upload URLs, whether it is public, and an optional Cloud Scheduler cron schedule."
  type = map(object({
    memory         = optional(string, "512Mi")
    timeout_sec    = optional(number, 60)
    min_instances  = optional(number, 0)
    max_instances  = optional(number, 3)
    db_pool_size   = optional(number, 1)
    env            = optional(map(string), {})
    secrets        = optional(list(string), ["DATABASE_URL"])
    publishes      = optional(list(string), [])
    bucket_reads   = optional(list(string), [])
    bucket_creates = optional(list(string), [])
    sign_urls      = optional(bool, false)
    public         = optional(bool, false)
    schedule       = optional(string)
  }))
  default = {
    ingest = {
      memory      = "512Mi"
      timeout_sec = 30
      secrets     = ["DATABASE_URL", "ADMIN_TOKEN"]
      # It checks whether an announced chunk is already uploaded, and signs the PUT of a
      # new one: a signed URL carries the signer's permissions (objects.create).
      bucket_reads   = ["chunks"]
      bucket_creates = ["chunks"]
      sign_urls      = true
      public         = true
    }
    vad = {
      memory       = "1Gi"
      timeout_sec  = 120
      publishes    = ["chunk-vad-done"]
      bucket_reads = ["chunks"]
    }
    assemble = {
      memory         = "1Gi"
      timeout_sec    = 120
      max_instances  = 2
      publishes      = ["asr-requests"]
      bucket_reads   = ["chunks"]
      bucket_creates = ["dialogues"]
    }
    analyze = {
      memory      = "512Mi"
      timeout_sec = 300
      secrets     = ["DATABASE_URL", "OPENAI_API_KEY"]
    }
    sweeper = {
      memory        = "512Mi"
      timeout_sec   = 300
      max_instances = 1
      publishes     = ["chunk-uploaded", "asr-requests", "transcripts-ready"]
      bucket_reads  = ["chunks"]
      schedule      = "*/5 * * * *"
    }
    # The owner's morning: yesterday's figures by e-mail and Telegram, at 08:00 in
    # var.timezone. It sends each day's digest once, so the scheduler's retry is safe.
    digest = {
      memory        = "512Mi"
      timeout_sec   = 300
      max_instances = 1
      secrets       = ["DATABASE_URL", "SMTP_PASSWORD", "TELEGRAM_BOT_TOKEN"]
      schedule      = "0 8 * * *"
    }
  }

  validation {
    condition = alltrue([
      for f in values(var.functions) : contains(["128Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi", "8Gi", "16Gi", "32Gi"], f.memory)
    ])
    error_message = "Function memory is one of 128Mi, 256Mi, 512Mi, 1Gi, 2Gi, 4Gi, 8Gi, 16Gi, 32Gi."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : f.timeout_sec >= 1 && f.timeout_sec <= 3600])
    error_message = "A function timeout is between 1 and 3600 seconds."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : f.min_instances >= 0 && f.max_instances >= 1 && f.min_instances <= f.max_instances])
    error_message = "Instance bounds need 0 <= min_instances <= max_instances and max_instances >= 1."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : f.db_pool_size >= 1])
    error_message = "A function instance needs at least one database connection (db_pool_size >= 1)."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : length(setsubtract(f.secrets, ["DATABASE_URL", "ADMIN_TOKEN", "OPENAI_API_KEY", "SMTP_PASSWORD", "TELEGRAM_BOT_TOKEN"])) == 0])
    error_message = "A function's secrets are among DATABASE_URL, ADMIN_TOKEN, OPENAI_API_KEY, SMTP_PASSWORD and TELEGRAM_BOT_TOKEN."
  }
  validation {
    condition = alltrue([
      for f in values(var.functions) : length(setsubtract(concat(f.bucket_reads, f.bucket_creates), ["chunks", "dialogues"])) == 0
    ])
    error_message = "A function reads and creates objects under the kinds chunks and dialogues only."
  }
}

variable "scheduler_time_zone" {
  description = "Time zone in which the functions' cron schedules are read; null: var.timezone (the digest comes at 08:00 shop time)."
  type        = string
  default     = null
}

variable "db_tier" {
  description = "Cloud SQL machine tier: db-f1-micro is enough for a few points, db-custom-1-3840 or larger for dozens."
  type        = string
  default     = "db-f1-micro"

  validation {
    condition     = can(regex("^db-(f1-micro|g1-small|custom-[0-9]+-[0-9]+|perf-optimized-.+)$", var.db_tier))
    error_message = "The tier is db-f1-micro, db-g1-small or db-custom-CPUS-MEMORY_MB."
  }
}

variable "db_availability_type" {
  description = "ZONAL for one zone, REGIONAL for a standby in a second zone (twice the price)."
  type        = string
  default     = "ZONAL"

  validation {
    condition     = contains(["ZONAL", "REGIONAL"], var.db_availability_type)
    error_message = "The availability type is ZONAL or REGIONAL."
  }
}

variable "db_disk_size_gb" {
  description = "Initial Cloud SQL SSD size in GB; it grows automatically."
  type        = number
  default     = 10

  validation {
    condition     = var.db_disk_size_gb >= 10
    error_message = "Cloud SQL disks start at 10 GB."
  }
}

variable "db_backup_retention_count" {
  description = "Number of daily Cloud SQL backups kept (point-in-time recovery covers the last 7 days)."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_count >= 1 && var.db_backup_retention_count <= 365
    error_message = "Keep between 1 and 365 backups."
  }
}

variable "db_public_ip" {
  description = "Whether Cloud SQL also gets a public IP with no authorized networks, which only the Cloud SQL Auth Proxy can use (IAM and TLS): turn it on for the time of running migrations from your machine; the services always use the private IP."
  type        = bool
  default     = false
}

variable "db_max_connections" {
  description = "Cloud SQL's max_connections flag; null keeps the tier's default (25 for db-f1-micro, 50 for db-g1-small, 100 and more by memory), which the connection budget uses."
  type        = number
  default     = null

  validation {
    condition     = var.db_max_connections == null || try(var.db_max_connections >= 25, false)
    error_message = "max_connections is at least 25."
  }
}

variable "db_connection_reserve" {
  description = "Connections the budget keeps free for Postgres's superusers (Cloud SQL's own agents) and an operator's psql."
  type        = number
  default     = 5

  validation {
    condition     = var.db_connection_reserve >= 3
    error_message = "Keep at least 3 (Postgres's superuser_reserved_connections)."
  }
}

variable "image_tag" {
  description = "Tag of the asr and dashboard images in the project's Artifact Registry repository (see the README for building and pushing)."
  type        = string
  default     = "latest"
}

variable "deploy_images" {
  description = "Whether to deploy the ASR workers and the dashboard; false on the first apply, before the images are pushed to the repository this configuration creates."
  type        = bool
  default     = true
}

variable "dashboard_max_instances" {
  description = "Most dashboard instances on Cloud Run (each holds dashboard_db_pool_size database connections)."
  type        = number
  default     = 1

  validation {
    condition     = var.dashboard_max_instances >= 1
    error_message = "At least one instance."
  }
}

variable "dashboard_db_pool_size" {
  description = "Database connections of one dashboard instance (Panel serves its sessions on one thread)."
  type        = number
  default     = 2
}

variable "dashboard_publishes" {
  description = "Topics the dashboard's re-run buttons publish to (transcribe again, analyse again)."
  type        = list(string)
  default     = ["asr-requests", "transcripts-ready"]
}

variable "dashboard_hosts" {
  description = "Extra host names the dashboard is opened at (a custom domain), allowed as websocket origins beside its run.app host."
  type        = list(string)
  default     = []
}

variable "dashboard_port" {
  description = "Port the dashboard container listens on."
  type        = number
  default     = 8080
}

variable "asr_zone" {
  description = "Zone of the ASR workers; it must offer the chosen GPU (T4 and L4 are in europe-west4-a, -b and -c)."
  type        = string
  default     = "europe-west4-a"

  validation {
    condition     = startswith(var.asr_zone, "${var.region}-")
    error_message = "The ASR zone must be in the deployment region."
  }
}

variable "asr_gpu_type" {
  description = "GPU of each ASR worker: nvidia-tesla-t4 (with an n1 machine type) or nvidia-l4 (with g2-standard-4); null for CPU-only workers running the Dockerfile.cpu image."
  type        = string
  default     = "nvidia-tesla-t4"

  validation {
    condition     = var.asr_gpu_type == null || contains(["nvidia-tesla-t4", "nvidia-l4"], coalesce(var.asr_gpu_type, "none"))
    error_message = "The GPU type is nvidia-tesla-t4, nvidia-l4 or null."
  }
}

variable "asr_machine_type" {
  description = "Machine type of an ASR worker: n1-standard-4 for a T4, g2-standard-4 for an L4, e.g. e2-standard-4 or c3-standard-4 for CPU-only."
  type        = string
  default     = "n1-standard-4"

  validation {
    condition     = (var.asr_gpu_type == "nvidia-tesla-t4" ? startswith(var.asr_machine_type, "n1-") : var.asr_gpu_type == "nvidia-l4" ? startswith(var.asr_machine_type, "g2-") : !startswith(var.asr_machine_type, "g2-"))
    error_message = "A T4 needs an n1 machine type, an L4 a g2 machine type, and a CPU-only worker no g2."
  }
}

variable "asr_spot" {
  description = "Whether ASR workers are Spot VMs (roughly a third of the price; a reclaimed worker's messages are redelivered to the next)."
  type        = bool
  default     = true
}

variable "asr_min_instances" {
  description = "Fewest ASR workers; 0 scales to zero when the asr subscription is empty (the first dialogue then waits a few minutes for a boot)."
  type        = number
  default     = 0

  validation {
    condition     = var.asr_min_instances >= 0
    error_message = "The minimum is 0 or more."
  }
}

variable "asr_max_instances" {
  description = "Most ASR workers (bounded by the project's GPU quota in the zone)."
  type        = number
  default     = 2

  validation {
    condition     = var.asr_max_instances >= 1 && var.asr_max_instances >= var.asr_min_instances
    error_message = "The maximum is at least 1 and at least the minimum."
  }
}

variable "asr_messages_per_instance" {
  description = "Backlog of asr-requests that one worker is expected to absorb; the autoscaler runs about backlog / this many workers."
  type        = number
  default     = 50

  validation {
    condition     = var.asr_messages_per_instance >= 1
    error_message = "At least one message per instance."
  }
}

variable "asr_boot_disk_gb" {
  description = "Boot disk of an ASR worker in GB (the CUDA image is several GB)."
  type        = number
  default     = 50

  validation {
    condition     = var.asr_boot_disk_gb >= 20
    error_message = "At least 20 GB."
  }
}

variable "asr_subscription" {
  description = "Pull subscription of the topology that the ASR workers consume; its backlog drives the autoscaler."
  type        = string
  default     = "asr"
}

variable "asr_db_pool_size" {
  description = "Database connections of one ASR worker. A dialogue holds one only for its short claim and store transactions, never while it decodes, so two serve the GPU image's ASR_CONCURRENCY=2 (a third caller waits milliseconds, DB_MAX_OVERFLOW is 0)."
  type        = number
  default     = 2
}

variable "asr_publishes" {
  description = "Topics the ASR worker publishes to (it announces stored transcripts)."
  type        = list(string)
  default     = ["transcripts-ready"]
}

variable "asr_env" {
  description = "Environment of the ASR worker beyond the project, bucket, log and database settings (the WHISPER_* settings); WHISPER_DEVICE and WHISPER_COMPUTE_TYPE default to cuda/float16 with a GPU and cpu/int8 without."
  type        = map(string)
  default = {
    WHISPER_MODEL_FAST     = "small"
    WHISPER_MODEL_ACCURATE = "medium"
    WHISPER_LANGUAGE       = "ru"
  }
}

variable "llm_server" {
  description = "A self-hosted OpenAI-compatible LLM (vLLM on a GPU VM of its own) for the analyze function, so transcripts stay in the project; null (the default) for none. Needs openai_api_key (any long random string: the key the server demands)."
  type = object({
    model             = optional(string, "Qwen/Qwen2.5-7B-Instruct")
    served_model_name = optional(string, "qwen2.5-7b-instruct")
    vllm_image        = optional(string, "vllm/vllm-openai:v0.6.6")
    machine_type      = optional(string, "g2-standard-8")
    gpu_type          = optional(string, "nvidia-l4")
    zone              = optional(string, "europe-west4-a")
    spot              = optional(bool, false)
    boot_disk_gb      = optional(number, 200)
    max_model_len     = optional(number, 8192)
  })
  default = null
}
