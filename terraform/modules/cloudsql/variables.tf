variable "project_id" {
  description = "ID of the Google Cloud project that holds the instance."
  type        = string
}

variable "region" {
  description = "Region of the Cloud SQL instance."
  type        = string
}

variable "instance_name" {
  description = "Name of the Cloud SQL instance."
  type        = string
}

variable "tier" {
  description = "Machine tier of the instance, e.g. db-f1-micro or db-custom-1-3840."
  type        = string
}

variable "availability_type" {
  description = "ZONAL (one zone) or REGIONAL (high availability with a standby)."
  type        = string
}

variable "disk_size_gb" {
  description = "Initial SSD size in GB; it grows automatically."
  type        = number
}

variable "backup_retention_count" {
  description = "Number of daily backups kept."
  type        = number
}

variable "network_id" {
  description = "ID of the VPC network in which the instance gets its private IP (peered through Service Networking)."
  type        = string
}

variable "public_ip" {
  description = "Whether the instance also gets a public IP without authorized networks, reachable only through the Cloud SQL Auth Proxy (for migrations from an operator's machine)."
  type        = bool
}

variable "max_connections" {
  description = "The max_connections database flag, or null for the tier's default."
  type        = number
  default     = null
}

variable "database_name" {
  description = "Name of the application database."
  type        = string
}

variable "user_name" {
  description = "Name of the application's database user."
  type        = string
}

variable "labels" {
  description = "User labels put on the instance."
  type        = map(string)
  default     = {}
}
