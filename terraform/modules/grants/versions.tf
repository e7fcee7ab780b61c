terraform {
  # No providers: it only computes who gets which role where, so the tests evaluate it
  # offline against docs/permissions.md (tests/test_permissions.py).
  required_version = ">= 1.9"
}
