terraform {
  # No providers: a pure text transformation, evaluated offline by the tests.
  required_version = ">= 1.9"
}
