output "files" {
  description = "Content of the function's source archive, path in the archive => text: functions/<name>/ at the root (its own requirements.txt included, which Cloud Functions installs) and salescontrol/ beside main.py."
  value       = local.files
}

output "requirements" {
  description = "The archive's requirements.txt: the function's own functions/<name>/requirements.txt."
  value       = local.files["requirements.txt"]
}
