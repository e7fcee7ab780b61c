# The dashboard on Cloud Run: public URL (it has its own users, `python -m dashboard
# users`; README "Dashboard" recommends IAP in front), database through the VPC
# connector, scaled to zero when nobody looks.

locals {
  dashboard_name = "${var.name_prefix}-dashboard"
  # Cloud Run's deterministic URL, known before the service exists
  # (https://cloud.google.com/run/docs/triggering/https-request#deterministic).
  dashboard_host = "${local.dashboard_name}-${data.google_project.this.number}.${var.region}.run.app"
  dashboard_env = merge(local.common_env, local.db_env["dashboard"], {
    # Panel (Bokeh) refuses a websocket from a host it was not told about, and the page
    # then stays blank: the public host, and any custom domain.
    BOKEH_ALLOW_WS_ORIGIN = join(",", concat([local.dashboard_host], var.dashboard_hosts))
  })
}

resource "google_cloud_run_v2_service" "dashboard" {
  count = var.deploy_images ? 1 : 0

  project             = var.project_id
  location            = var.region
  name                = local.dashboard_name
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false # stateless; everything it shows is in Cloud SQL
  labels              = var.labels

  template {
    service_account = google_service_account.component["dashboard"].email
    # A Panel page and its websocket must reach the same instance, which holds the session.
    session_affinity = true

    scaling {
      min_instance_count = 0
      max_instance_count = var.dashboard_max_instances
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

      # GET /health answers {"status": "healthy"} once the database does (dashboard/login.py):
      # the instance takes traffic only then, and is restarted when it has lost the
      # database for a minute and a half (a fresh connection pool, a fresh connector path).
      startup_probe {
        period_seconds    = 5
        timeout_seconds   = 5
        failure_threshold = 24
        http_get {
          path = "/health"
        }
      }

      liveness_probe {
        period_seconds    = 30
        timeout_seconds   = 10
        failure_threshold = 3
        http_get {
          path = "/health"
        }
      }

      dynamic "env" {
        for_each = local.dashboard_env
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
    google_secret_manager_secret_iam_member.grant,
  ]
}
