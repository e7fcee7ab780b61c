variable "project_id" {
  description = "ID of the Google Cloud project that runs the function."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "name" {
  description = "Name of the function; its source is functions/<name>/ and its entry point is <name>."
  type        = string
}

variable "files" {
  description = "Content of the source archive, path in the archive => text (from modules/function_source)."
  type        = map(string)
}

variable "runtime" {
  description = "Cloud Functions runtime, e.g. python311."
  type        = string
}

variable "source_bucket" {
  description = "Bucket that holds the source archives."
  type        = string
}

variable "build_dir" {
  description = "Local folder where the source archive is written before upload (ignored by git)."
  type        = string
}

variable "cloudevent" {
  description = "Whether the function is a CloudEvent function fed by a push subscription (true) or a plain HTTP function (false)."
  type        = bool
}

variable "public" {
  description = "Whether anyone on the internet may call the function (the ingest API, which checks device and admin tokens itself)."
  type        = bool
}

variable "memory" {
  description = "Memory of one instance, e.g. 512Mi."
  type        = string
}

variable "timeout_sec" {
  description = "Longest a request may run, in seconds."
  type        = number
}

variable "min_instances" {
  description = "Instances kept warm."
  type        = number
}

variable "max_instances" {
  description = "Upper bound of instances, which also bounds the database connections the function opens."
  type        = number
}

variable "env" {
  description = "Plain environment variables of the function."
  type        = map(string)
}

variable "secret_env" {
  description = "Environment variables read from Secret Manager (variable name => secret ID), always the latest version."
  type        = map(string)
}

variable "service_account_email" {
  description = "Email of the function's own runtime service account."
  type        = string
}

variable "build_service_account" {
  description = "Full ID (projects/P/serviceAccounts/EMAIL) of the service account that Cloud Build uses to build the function."
  type        = string
}

variable "vpc_connector" {
  description = "ID of the Serverless VPC Access connector through which the function reaches Cloud SQL's private IP."
  type        = string
}

variable "labels" {
  description = "Labels put on the function and its source object."
  type        = map(string)
  default     = {}
}
