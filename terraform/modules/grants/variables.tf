variable "bucket" {
  description = "Name of the audio bucket, which object-name conditions spell out."
  type        = string
}

variable "object_prefixes" {
  description = "The audio bucket's object prefixes by kind (chunks, dialogues), from the topology file."
  type        = map(string)
}

variable "functions" {
  description = "Functions of the topology (the topology module's output): whether HTTP, and the subscription an event function consumes."
  type = map(object({
    http         = bool
    subscription = string
  }))
}

variable "function_settings" {
  description = "The root's var.functions: topics each function publishes to, secrets it reads, object prefixes it reads and creates, whether it signs upload URLs, is public or scheduled."
  type = map(object({
    publishes      = list(string)
    secrets        = list(string)
    bucket_reads   = list(string)
    bucket_creates = list(string)
    sign_urls      = bool
    public         = bool
    schedule       = string
  }))
}

variable "secrets" {
  description = "Names of the secrets that exist (OPENAI_API_KEY only when set); a grant on any other is left out."
  type        = set(string)
}

variable "subscriptions" {
  description = "Pipeline subscriptions of the topology (name => settings); Pub/Sub's service agent acknowledges on each when it dead-letters."
  type        = map(any)
}

variable "dead_letter_topics" {
  description = "Dead-letter topics, each with a pull subscription of the same name."
  type        = set(string)
}

variable "notification_topics" {
  description = "Topics the bucket's notifications publish to (the Cloud Storage service agent publishes)."
  type        = set(string)
}

variable "asr_subscription" {
  description = "Pull subscription the ASR workers consume."
  type        = string
}

variable "asr_publishes" {
  description = "Topics the ASR workers publish to."
  type        = list(string)
}

variable "dashboard_publishes" {
  description = "Topics the dashboard's re-run buttons publish to."
  type        = list(string)
}

variable "dashboard_deployed" {
  description = "Whether the dashboard's Cloud Run service exists (deploy_images), so that it can be made public."
  type        = bool
}

variable "llm_deployed" {
  description = "Whether the optional self-hosted LLM server (member \"llm\") exists."
  type        = bool
  default     = false
}
