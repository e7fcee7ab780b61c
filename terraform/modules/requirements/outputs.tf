output "text" {
  description = "requirements.txt for a Cloud Function: the repository's pins without comments and without the excluded distributions."
  value       = "${join("\n", local.kept)}\n"
}

output "names" {
  description = "Normalised distribution names that the generated requirements.txt keeps."
  value       = [for l in local.lines : l.name if contains(local.kept, l.text)]
}
