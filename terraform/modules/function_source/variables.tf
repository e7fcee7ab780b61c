variable "function_dir" {
  description = "Path of the function's folder (functions/<name>/), whose files go to the root of the archive."
  type        = string

  validation {
    condition     = fileexists("${var.function_dir}/main.py")
    error_message = "The function folder has no main.py: the topology names a function whose code is not in this checkout."
  }
}

variable "core_dir" {
  description = "Path of the shared core package (salescontrol/), zipped beside main.py so deployed code is the tested code."
  type        = string
}

variable "requirements" {
  description = "Text of the repository's requirements.txt, which pins every runtime and test dependency."
  type        = string
}

variable "exclude" {
  description = "Distribution names (case-insensitive) left out of the generated requirements: test tooling and the dependencies of components that are not Cloud Functions."
  type        = list(string)
}
