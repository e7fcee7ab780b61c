output "files" {
  description = "Content of the function's source archive, path in the archive => text: functions/<name>/ at the root, salescontrol/ beside main.py, and requirements.txt."
  value       = local.files
}

output "requirements" {
  description = "The requirements.txt of the archive: the function's own, or the repository's pins without comments and without the excluded distributions."
  value       = local.requirements
}

output "requirement_names" {
  description = "Normalised distribution names that the generated requirements keep."
  value       = [for l in local.lines : l.name if contains(local.kept, l.text)]
}
