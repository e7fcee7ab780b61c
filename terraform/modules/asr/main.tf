locals {
  gpu = var.gpu_type != null
}

resource "google_compute_instance_template" "worker" {
  project      = var.project_id
  name_prefix  = "${var.name}-"
  machine_type = var.machine_type
  labels       = var.labels
  tags         = [var.name]

  disk {
    # Container-Optimized OS: Docker and cos-extensions (the NVIDIA driver) built in,
    # automatic security updates, nothing else to maintain.
    source_image = "cos-cloud/cos-stable"
    disk_size_gb = var.boot_disk_gb
    disk_type    = "pd-balanced"
    boot         = true
    auto_delete  = true
  }

  dynamic "guest_accelerator" {
    for_each = local.gpu ? [var.gpu_type] : []
    content {
      type  = guest_accelerator.value
      count = 1
    }
  }

  scheduling {
    # GPU VMs cannot live-migrate: they must stop for host maintenance.
    on_host_maintenance         = "TERMINATE"
    automatic_restart           = !var.spot
    preemptible                 = var.spot
    provisioning_model          = var.spot ? "SPOT" : "STANDARD"
    instance_termination_action = var.spot ? "DELETE" : null
  }

  network_interface {
    subnetwork = var.subnetwork
  }

  service_account {
    email  = var.service_account_email
    scopes = ["cloud-platform"] # IAM roles, not scopes, limit what it may do
  }

  metadata = {
    user-data = templatefile("${path.module}/cloud-init.yaml.tftpl", {
      gpu        = local.gpu
      image      = var.image
      registry   = split("/", var.image)[0]
      env        = var.env
      secret_env = var.secret_env
    })
    google-logging-enabled    = "true"
    google-monitoring-enabled = "true"
    enable-oslogin            = "TRUE"
    block-project-ssh-keys    = "TRUE"
  }

  shielded_instance_config {
    enable_secure_boot = true
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_instance_group_manager" "workers" {
  project            = var.project_id
  zone               = var.zone
  name               = var.name
  base_instance_name = var.name

  version {
    instance_template = google_compute_instance_template.worker.self_link_unique
  }

  update_policy {
    type                  = "PROACTIVE"
    minimal_action        = "REPLACE"
    max_surge_fixed       = 0
    max_unavailable_fixed = 1
  }
}

# Scale on the subscription's backlog: about one worker per messages_per_instance
# undelivered asr-requests, down to min_instances (0: no GPU bill when idle).
resource "google_compute_autoscaler" "workers" {
  project = var.project_id
  zone    = var.zone
  name    = var.name
  target  = google_compute_instance_group_manager.workers.id

  autoscaling_policy {
    min_replicas    = var.min_instances
    max_replicas    = var.max_instances
    cooldown_period = 300 # driver install, image pull and model load

    metric {
      name                       = "pubsub.googleapis.com/subscription/num_undelivered_messages"
      filter                     = "resource.type = pubsub_subscription AND resource.labels.subscription_id = \"${var.subscription}\""
      single_instance_assignment = var.messages_per_instance
    }
  }
}
