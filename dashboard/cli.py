"""`python -m dashboard users ...`: create and manage the dashboard's users.

Run it where DATABASE_URL reaches the database (for Cloud SQL: through the Auth Proxy,
like the migrations). The first owner is made this way; there is no default account.
Passwords are read from the terminal (asked twice) or, with --password-stdin, from the
first line of standard input; never from the command line, where `ps` would show them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from uuid import UUID

from dashboard import digests, sessions, throttle, users
from salescontrol import db
from salescontrol.errors import BadInput


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise BadInput("the two passwords differ")
    return first


def _points(values: list[str] | None) -> list[UUID]:
    try:
        return [UUID(v) for v in values or []]
    except ValueError as exc:
        raise BadInput(f"a point is given by its id (a UUID): {exc}") from None


def cmd_add(args: argparse.Namespace) -> int:
    password = _password(args)
    with db.transaction() as conn:
        user = users.add(conn, args.name, users.Role(args.role), password, _points(args.point))
    print(f"added {user.name} ({user.role}, {len(user.points)} points)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with db.transaction() as conn:
        rows = users.listing(conn)
        digest = digests.channels(conn)
    for r in rows:
        state = "enabled" if r["is_enabled"] else "disabled"
        line = f"{r['name']}\t{r['role']}\t{state}\tsessions={r['sessions']}\t{r['points']}"
        print(line + (f"\tdigest: {digest[r['name']]}" if r["name"] in digest else ""))
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    with db.transaction() as conn:
        if args.off:
            had = digests.stop(conn, args.name)
            print(f"{args.name}: {'no more digests' if had else 'had no digest'}")
            return 0
        digests.set_channels(conn, args.name, args.email, args.telegram)
    where = " and ".join(
        x for x in (args.email, args.telegram and f"Telegram chat {args.telegram}") if x
    )
    print(f"{args.name} gets the daily digest: {where}")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    password = _password(args)
    with db.transaction() as conn:
        users.set_password(conn, args.name, password)
        ended = sessions.revoke_all(conn, users.get(conn, args.name).user_id)
    print(f"password of {args.name} changed; {ended} sessions ended")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    with db.transaction() as conn:
        user = users.get(conn, args.name)
        if args.role:
            user = users.set_role(conn, args.name, users.Role(args.role))
        if args.point is not None:
            user = users.set_points(conn, args.name, _points(args.point))
    print(f"{user.name}: {user.role}, {len(user.points)} points (open pages must reload)")
    return 0


def cmd_enable(args: argparse.Namespace, enabled: bool) -> int:
    with db.transaction() as conn:
        user = users.set_enabled(conn, args.name, enabled)
        ended = 0 if enabled else sessions.revoke_all(conn, user.user_id)
    print(f"{user.name} {'enabled' if enabled else f'disabled; {ended} sessions ended'}")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    with db.transaction() as conn:
        ended = sessions.revoke_all(conn, users.get(conn, args.name).user_id)
    print(f"{ended} sessions of {args.name} ended")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    with db.transaction() as conn:
        users.get(conn, args.name)
        dropped = throttle.unlock(conn, args.name)
    print(f"{args.name}: {'login attempts forgotten' if dropped else 'was not locked'}")
    return 0


def add_users_command(sub: argparse._SubParsersAction) -> None:
    """The `users` command and its subcommands."""
    p = sub.add_parser("users", help="create and manage the dashboard's users")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    roles = [r.value for r in users.Role]

    add = verbs.add_parser("add", help="create a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--role", choices=roles, required=True)
    add.add_argument("--point", action="append", metavar="POINT_ID", help="a point (repeatable)")
    add.add_argument("--password-stdin", action="store_true", help="read the password")
    add.set_defaults(users_func=cmd_add)

    verbs.add_parser("list", help="users, roles, points, open sessions").set_defaults(
        users_func=cmd_list
    )

    passwd = verbs.add_parser("passwd", help="set a password; ends the user's sessions")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(users_func=cmd_passwd)

    change = verbs.add_parser("set", help="change a user's role or points")
    change.add_argument("name")
    change.add_argument("--role", choices=roles)
    change.add_argument(
        "--point", action="append", metavar="POINT_ID", help="the points (replaces them)"
    )
    change.set_defaults(users_func=cmd_set)

    for verb, enabled in (("enable", True), ("disable", False)):
        v = verbs.add_parser(verb, help=f"{verb} a user" + ("" if enabled else "; ends sessions"))
        v.add_argument("name")
        v.set_defaults(users_func=lambda a, e=enabled: cmd_enable(a, e))

    out = verbs.add_parser("logout", help="end every session of a user")
    out.add_argument("name")
    out.set_defaults(users_func=cmd_logout)

    digest = verbs.add_parser(
        "digest", help="send a user the daily digest by e-mail and/or Telegram (or stop)"
    )
    digest.add_argument("name")
    digest.add_argument("--email", metavar="ADDRESS", help="e-mail address")
    digest.add_argument(
        "--telegram", metavar="CHAT_ID", help="Telegram chat id (the bot must be in that chat)"
    )
    digest.add_argument("--off", action="store_true", help="no more digests for this user")
    digest.set_defaults(users_func=cmd_digest)

    unlock = verbs.add_parser("unlock", help="forget a user's failed login attempts")
    unlock.add_argument("name")
    unlock.set_defaults(users_func=cmd_unlock)
