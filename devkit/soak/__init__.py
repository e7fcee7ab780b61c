"""Load, fault and hostile-input runs against a local stack (`python -m salescontrol soak`)."""
