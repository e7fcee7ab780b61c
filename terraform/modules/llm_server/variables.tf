variable "project_id" {
  description = "Project the LLM server runs in."
  type        = string
}

variable "region" {
  description = "Region of the workers subnet the server's internal address is taken from."
  type        = string
}

variable "zone" {
  description = "Zone of the server VM; it must offer the GPU type."
  type        = string
}

variable "name" {
  description = "Name of the VM, its address, firewall rule and network tag."
  type        = string
}

variable "machine_type" {
  description = "Machine type of the VM (g2-standard-8 carries one NVIDIA L4 with 24 GB)."
  type        = string
}

variable "gpu_type" {
  description = "GPU attached to the VM (nvidia-l4 for g2 machines, nvidia-tesla-t4 for n1)."
  type        = string
}

variable "spot" {
  description = "Whether the VM is a Spot VM (about a third of the price, can be stopped at any time)."
  type        = bool
}

variable "boot_disk_gb" {
  description = "Boot disk size in GB: the vLLM image and the model weights live there."
  type        = number
}

variable "vllm_image" {
  description = "The vLLM OpenAI-compatible server image, pinned to a version."
  type        = string
}

variable "model" {
  description = "Hugging Face id of the open instruct model vLLM serves (downloaded at first boot through Cloud NAT)."
  type        = string
}

variable "served_model_name" {
  description = "Model name the server answers to: what OPENAI_MODEL must say."
  type        = string
}

variable "max_model_len" {
  description = "Longest context vLLM accepts, in tokens (a dialogue and the prompt take about 2000)."
  type        = number
}

variable "api_key_secret" {
  description = "Full name (projects/P/secrets/S) of the secret holding the API key the server demands: the same OPENAI_API_KEY the analyze function sends."
  type        = string
}

variable "service_account_email" {
  description = "Service account of the VM: it reads the API key secret and writes logs."
  type        = string
}

variable "network" {
  description = "Self link of the VPC the server and the firewall rule belong to."
  type        = string
}

variable "subnetwork" {
  description = "Self link of the subnet the VM and its internal address are on (no external IP)."
  type        = string
}

variable "client_ranges" {
  description = "CIDR ranges allowed to call the server (the Serverless VPC Access connector of the functions)."
  type        = list(string)
}

variable "labels" {
  description = "Labels put on the VM."
  type        = map(string)
}
