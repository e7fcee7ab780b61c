variable "project_id" {
  description = "ID of the Google Cloud project that runs the ASR workers."
  type        = string
}

variable "region" {
  description = "Region of the Artifact Registry repository the image is pulled from."
  type        = string
}

variable "zone" {
  description = "Zone of the managed instance group; GPUs are zonal, so pick one that offers the chosen GPU."
  type        = string
}

variable "name" {
  description = "Name prefix of the instance template, group and autoscaler."
  type        = string
}

variable "image" {
  description = "Full Artifact Registry reference of the ASR container image (REGION-docker.pkg.dev/PROJECT/REPO/asr:TAG)."
  type        = string
}

variable "machine_type" {
  description = "Machine type of a worker, e.g. n1-standard-4 with a T4, g2-standard-4 (L4 built in), or e2-standard-4 for CPU-only."
  type        = string
}

variable "gpu_type" {
  description = "Accelerator type (nvidia-tesla-t4, nvidia-l4), or null for a CPU-only worker."
  type        = string
  default     = null
}

variable "spot" {
  description = "Whether workers are Spot VMs: about a third of the price, may be reclaimed at any time (unacked messages are redelivered)."
  type        = bool
}

variable "boot_disk_gb" {
  description = "Boot disk size in GB; the CUDA image and the Whisper model live there."
  type        = number
}

variable "min_instances" {
  description = "Fewest workers; 0 lets the group scale to zero when the subscription is empty."
  type        = number
}

variable "max_instances" {
  description = "Most workers."
  type        = number
}

variable "messages_per_instance" {
  description = "Undelivered messages on the subscription that one worker is expected to handle; the autoscaler aims at backlog / this many workers."
  type        = number
}

variable "subscription" {
  description = "Name of the pull subscription the workers consume (its backlog drives the autoscaler)."
  type        = string
}

variable "env" {
  description = "Plain environment variables of the worker container (WHISPER_*, GOOGLE_CLOUD_PROJECT, AUDIO_BUCKET, ...)."
  type        = map(string)
}

variable "secret_env" {
  description = "Environment variables read from Secret Manager at boot (variable name => full secret name projects/P/secrets/S)."
  type        = map(string)
}

variable "service_account_email" {
  description = "Email of the workers' service account."
  type        = string
}

variable "subnetwork" {
  description = "Self link of the subnetwork the workers live in (no external IP; Cloud NAT for egress)."
  type        = string
}

variable "labels" {
  description = "Labels put on the workers."
  type        = map(string)
  default     = {}
}
