locals {
  excluded = [for name in var.exclude : replace(lower(name), "/[_.]+/", "-")]

  # A requirement's distribution name: the line up to the first version specifier,
  # extra, marker or space; PEP 503 normalisation of _ and . to -.
  lines = [
    for line in split("\n", var.requirements) : {
      text = trimspace(line)
      name = replace(lower(regex("^[A-Za-z0-9._-]*", trimspace(line))), "/[_.]+/", "-")
    }
  ]
  kept = [
    for l in local.lines : l.text
    if l.text != "" && !startswith(l.text, "#") && !contains(local.excluded, l.name)
  ]
}
