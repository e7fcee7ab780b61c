variable "requirements" {
  description = "Text of the repository's requirements.txt, which pins every runtime and test dependency."
  type        = string
}

variable "exclude" {
  description = "Distribution names (case-insensitive) left out of the functions' requirements: test tooling and the dependencies of components that are not Cloud Functions."
  type        = list(string)
}
