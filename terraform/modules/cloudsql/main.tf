resource "google_sql_database_instance" "main" {
  # checkov:skip=CKV_GCP_6:TLS is required (ssl_mode ENCRYPTED_ONLY) and clients verify the server CA; no client certificates.
  # checkov:skip=CKV_GCP_79:PostgreSQL 15 is the version the tests and the local stack run.
  # checkov:skip=CKV_GCP_110:pgAudit would log statements holding transcripts (personal data) to Cloud Logging.
  # checkov:skip=CKV_GCP_111:Statement logs would hold transcripts (personal data); Query Insights covers performance.
  # checkov:skip=CKV2_GCP_13:A log line per statement on db-f1-micro; Query Insights records durations instead.
  project             = var.project_id
  region              = var.region
  name                = var.instance_name
  database_version    = "POSTGRES_15"
  deletion_protection = true # Terraform refuses to destroy it

  settings {
    tier                        = var.tier
    edition                     = "ENTERPRISE"
    availability_type           = var.availability_type
    disk_type                   = "PD_SSD"
    disk_size                   = var.disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = true # the API refuses to delete it, whoever asks
    user_labels                 = var.labels

    backup_configuration {
      enabled                        = true
      start_time                     = "02:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = 7
      backup_retention_settings {
        retained_backups = var.backup_retention_count
      }
    }

    ip_configuration {
      ipv4_enabled                                  = var.public_ip
      private_network                               = var.network_id
      enable_private_path_for_google_cloud_services = true
      # Postgres refuses connections without TLS; the services verify the server's
      # certificate against this instance's CA (DATABASE_SSL=verify-ca).
      ssl_mode = "ENCRYPTED_ONLY"
      # No authorized_networks: the public IP, if any, only admits the Auth Proxy.
    }

    # Connection and lock logging (CIS benchmark flags); statements are not logged.
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    # The failing statement's text only: bind parameters (transcripts) stay out of logs
    # while log_parameter_max_length_on_error keeps its default, 0.
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }

    dynamic "database_flags" {
      for_each = var.max_connections == null ? [] : [var.max_connections]
      content {
        name  = "max_connections"
        value = tostring(database_flags.value)
      }
    }

    maintenance_window {
      day  = 7
      hour = 3
    }

    insights_config {
      query_insights_enabled = true
    }
  }
}

resource "google_sql_database" "app" {
  project  = var.project_id
  instance = google_sql_database_instance.main.name
  name     = var.database_name
}

# Letters and digits only, so the password sits in a URL without escaping.
resource "random_password" "app" {
  length  = 32
  special = false
}

resource "google_sql_user" "app" {
  project  = var.project_id
  instance = google_sql_database_instance.main.name
  name     = var.user_name
  password = random_password.app.result
}
