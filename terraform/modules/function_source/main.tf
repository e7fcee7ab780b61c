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
  generated = "${join("\n", local.kept)}\n"

  # A function's own requirements.txt wins over the generated one.
  own_requirements = fileexists("${var.function_dir}/requirements.txt")
  requirements     = local.own_requirements ? file("${var.function_dir}/requirements.txt") : local.generated

  # Text sources only (archive_file's source blocks take strings), no bytecode caches.
  function_files = [
    for f in fileset(var.function_dir, "**") : f
    if !strcontains(f, "__pycache__") && !endswith(f, ".pyc") && f != "requirements.txt"
  ]
  core_files = [
    for f in fileset(var.core_dir, "**/*.{py,yaml,sql,json}") : f
    if !strcontains(f, "__pycache__")
  ]
  files = merge(
    { for f in local.function_files : f => file("${var.function_dir}/${f}") },
    { for f in local.core_files : "salescontrol/${f}" => file("${var.core_dir}/${f}") },
    { "requirements.txt" = local.requirements },
  )
}
