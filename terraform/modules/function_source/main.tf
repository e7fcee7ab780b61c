locals {
  # Every file but bytecode caches: the sources, topology.yaml, the analysis prompts
  # (salescontrol/analysis/prompts/*.md) and the function's own requirements.txt. All are
  # text, as archive_file's source blocks require.
  function_files = [
    for f in fileset(var.function_dir, "**") : f
    if !strcontains(f, "__pycache__") && !endswith(f, ".pyc")
  ]
  core_files = [
    for f in fileset(var.core_dir, "**") : f
    if !strcontains(f, "__pycache__") && !endswith(f, ".pyc")
  ]
  files = merge(
    { for f in local.function_files : f => file("${var.function_dir}/${f}") },
    { for f in local.core_files : "salescontrol/${f}" => file("${var.core_dir}/${f}") },
  )
}
