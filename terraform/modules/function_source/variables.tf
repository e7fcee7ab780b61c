variable "function_dir" {
  description = "Path of the function's folder (functions/<name>/), whose files go to the root of the archive: main.py and the function's own pinned requirements.txt."
  type        = string

  validation {
    condition     = fileexists("${var.function_dir}/main.py")
    error_message = "The function folder has no main.py: the topology names a function whose code is not in this checkout."
  }

  validation {
    condition     = fileexists("${var.function_dir}/requirements.txt")
    error_message = "The function folder has no requirements.txt: each function declares its own pinned dependencies, which Cloud Functions installs from the archive root."
  }
}

variable "core_dir" {
  description = "Path of the shared core package (salescontrol/), zipped beside main.py so deployed code is the tested code."
  type        = string
}
