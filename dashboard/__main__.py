"""`python -m dashboard`: serve the dashboard until stopped (what the Cloud Run image runs);
`python -m dashboard users ...`: manage its users (dashboard.cli)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from dashboard.cli import add_users_command
from salescontrol.config import settings
from salescontrol.errors import SalesControlError


def add_options(parser: argparse.ArgumentParser) -> None:
    """The dashboard's options and its `users` command; `python -m salescontrol dashboard`
    takes the same."""
    parser.add_argument("--port", type=int, default=0, help="port (default DASHBOARD_PORT)")
    parser.add_argument("--address", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--allow-websocket-origin",
        action="append",
        help="host[:port] the browser reaches the dashboard at (repeatable; default localhost)",
    )
    add_users_command(parser.add_subparsers(dest="dashboard_command", metavar="COMMAND"))


def run(args: argparse.Namespace) -> int:
    if getattr(args, "dashboard_command", None) == "users":
        return args.users_func(args)
    from dashboard.app import serve  # Panel's server only when serving

    # Bokeh's own variable names the hosts a browser may open the websocket from.
    origins = args.allow_websocket_origin or [
        o for o in os.environ.get("BOKEH_ALLOW_WS_ORIGIN", "").split(",") if o
    ]
    serve(args.port or settings().dashboard_port, args.address, origins or None)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__)
    add_options(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return run(args)
    except SalesControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
