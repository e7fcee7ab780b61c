# One GPU VM on Container-Optimized OS running vLLM's OpenAI-compatible server with an
# open instruct model, reachable only on an internal address of the workers subnet from
# the functions' VPC connector. vLLM demands the API key (--api-key), read at boot from
# Secret Manager.

resource "google_compute_address" "internal" {
  project      = var.project_id
  region       = var.region
  name         = var.name
  address_type = "INTERNAL"
  subnetwork   = var.subnetwork
}

resource "google_compute_instance" "server" {
  # checkov:skip=CKV_GCP_38:Google-managed disk encryption; the disk holds the OS and model weights, no customer data.
  project      = var.project_id
  zone         = var.zone
  name         = var.name
  machine_type = var.machine_type
  labels       = var.labels
  tags         = [var.name]

  boot_disk {
    initialize_params {
      image = "cos-cloud/cos-stable"
      size  = var.boot_disk_gb
      type  = "pd-balanced"
    }
  }

  guest_accelerator {
    type  = var.gpu_type
    count = 1
  }

  scheduling {
    # GPU VMs cannot live-migrate: they must stop for host maintenance.
    on_host_maintenance         = "TERMINATE"
    automatic_restart           = !var.spot
    preemptible                 = var.spot
    provisioning_model          = var.spot ? "SPOT" : "STANDARD"
    instance_termination_action = var.spot ? "STOP" : null
  }

  network_interface {
    subnetwork = var.subnetwork
    network_ip = google_compute_address.internal.address
  }

  service_account {
    email  = var.service_account_email
    scopes = ["cloud-platform"] # IAM roles, not scopes, limit what it may do
  }

  metadata = {
    user-data = templatefile("${path.module}/cloud-init.yaml.tftpl", {
      image             = var.vllm_image
      model             = var.model
      served_model_name = var.served_model_name
      max_model_len     = var.max_model_len
      api_key_secret    = var.api_key_secret
    })
    google-logging-enabled    = "true"
    google-monitoring-enabled = "true"
    enable-oslogin            = "TRUE"
    block-project-ssh-keys    = "TRUE"
  }

  shielded_instance_config {
    enable_secure_boot = true
  }
}

resource "google_compute_firewall" "api" {
  project       = var.project_id
  name          = "${var.name}-api"
  network       = var.network
  direction     = "INGRESS"
  source_ranges = var.client_ranges
  target_tags   = [var.name]

  allow {
    protocol = "tcp"
    ports    = ["8000"]
  }
}
