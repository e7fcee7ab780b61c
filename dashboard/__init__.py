"""The SalesControl dashboard (Panel): `python -m dashboard`."""
