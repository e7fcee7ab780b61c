terraform {
  # No providers: arithmetic over the deployment's settings, evaluated offline by the tests.
  required_version = ">= 1.9"
}
