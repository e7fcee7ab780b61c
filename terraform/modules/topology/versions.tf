terraform {
  # No providers: this module only reads and checks the topology file, so it can be
  # evaluated offline (tests/test_terraform.py applies it without any provider).
  required_version = ">= 1.9"
}
