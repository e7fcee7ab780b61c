# The dashboard on Cloud Run: public URL (it has its own users, `python -m dashboard
# users`; README "Dashboard" recommends IAP in front), database through the VPC
# connector, scaled to zero when nobody looks.

resource "google_cloud_run_v2_service" "dashboard" {
  count = var.deploy_images ? 1 : 0

  project             = var.project_id
  location            = var.region
  name                = "${var.name_prefix}-dashboard"
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false # stateless; everything it shows is in Cloud SQL
  labels              = var.labels

  template {
    service_account = google_service_account.component["dashboard"].email

    scaling {
      min_instance_count = 0
      max_instance_count = 2
    }

    vpc_access {
      connector = google_vpc_access_connector.main.id
      egress    = "PRIVATE_RANGES_ONLY"
    }

    containers {
      image = "${local.registry}/dashboard:${var.image_tag}"

      ports {
        container_port = var.dashboard_port
      }

      dynamic "env" {
        for_each = local.common_env
        content {
          name  = env.key
          value = env.value
        }
      }

      # Cloud Run's front end appends the client's address to X-Forwarded-For: the
      # login throttle counts that one, not what the client wrote before it.
      env {
        name  = "DASHBOARD_PROXY_HOPS"
        value = "1"
      }

      dynamic "env" {
        for_each = toset(["DATABASE_URL", "DASHBOARD_COOKIE_SECRET"])
        content {
          name = env.value
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.app[env.value].secret_id
              version = "latest"
            }
          }
        }
      }
    }
  }

  depends_on = [
    google_secret_manager_secret_version.app,
    google_secret_manager_secret_iam_member.dashboard,
  ]
}

resource "google_cloud_run_v2_service_iam_member" "dashboard_public" {
  count = var.deploy_images ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.dashboard[0].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
