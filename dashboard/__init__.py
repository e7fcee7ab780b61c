"""The SalesControl dashboard (Panel): `python -m salescontrol dashboard`."""
