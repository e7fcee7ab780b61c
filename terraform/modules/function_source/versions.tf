terraform {
  # No providers: file selection and text only, so the tests evaluate it offline.
  required_version = ">= 1.9"
}
