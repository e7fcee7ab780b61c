terraform {
  # 1.9: input validations may refer to other variables.
  required_version = ">= 1.9"
  required_providers {
    google = {
      source = "hashicorp/google"
      # The version whose schema the tests check every resource against (PyPI
      # cdktf-cdktf-provider-google 16.12.1 is generated from hashicorp/google 6.50.0).
      version = "6.50.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
