"""`python app.py`: open the studio in a browser, safely by default.

Binds 127.0.0.1. A public link (--share) or a non-local host needs a login (--auth for one
person, --auth-file for a team), or the explicit --no-auth-on-network opt-out, which prints a
warning. With a login, the person's name is the author of what they do. No folder is served as
files: images and export zips go through the studio's own routes (studio.ui.routes). Every flag
is checked (studio.core.limits) before anything is opened; a taken port or a refused database is one
line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys

from .. import engines as registry
from ..core import limits
from ..core.domain import StudioError

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="app.py", description="Open Stroke Studio in your browser."
    )
    parser.add_argument(
        "--engine",
        default=registry.DEFAULT_ENGINE,
        help="engine for new sessions (default: %(default)s)",
    )
    parser.add_argument(
        "--db",
        default=None,
        help="SQLAlchemy URL of the sessions database (default: sessions/studio.db)",
    )
    parser.add_argument(
        "--data-dir", default=None, help="folder for the database and images (default: sessions/)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", default=None, help="port (default: 7860, or the next free one)")
    parser.add_argument(
        "--share", action="store_true", help="make a temporary public link (needs --auth)"
    )
    parser.add_argument(
        "--auth",
        default=None,
        metavar="USER:PASSWORD",
        help="require this login (one person, an admin)",
    )
    parser.add_argument(
        "--auth-file",
        default=None,
        metavar="USERS.TOML",
        help="require a login from this users file (`studio users add NAME --file USERS.TOML`)",
    )
    parser.add_argument(
        "--no-auth-on-network",
        action="store_true",
        help="allow --share or a non-local --host without a login (anyone who can reach it can use it)",
    )
    parser.add_argument(
        "--max-jobs",
        default=4,
        help=f"model jobs run at once across all users, 1 to {limits.MAX_JOBS} "
        "(default: %(default)s)",
    )
    return parser.parse_args(argv)


def accounts_for(args: argparse.Namespace):
    """Who may log in (studio.core.accounts.Accounts), after refusing an exposed server without a login."""
    from ..core.accounts import Accounts

    exposed = args.share or args.host not in LOCAL_HOSTS
    if args.auth and args.auth_file:
        raise StudioError("Use --auth (one person) or --auth-file (a team), not both.")
    if args.auth_file:
        return Accounts.load(args.auth_file)
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            raise StudioError("--auth takes USER:PASSWORD, e.g. --auth ana:correct-horse-battery.")
        return Accounts.single(user, password)
    if exposed and not args.no_auth_on_network:
        where = "--share" if args.share else f"--host {args.host}"
        raise StudioError(
            f"{where} makes the studio reachable by others: add --auth USER:PASSWORD or "
            "--auth-file USERS.TOML (or --no-auth-on-network if you really mean it)."
        )
    if exposed:
        print(
            "warning: the studio is reachable without a login (--no-auth-on-network).",
            file=sys.stderr,
        )
    return None


def check_port_free(host: str, port: int | None) -> None:
    """Refuse a port another program holds, in one line, before the database is opened."""
    if port is None:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise StudioError(
                    f"Port {port} is in use by another program; pass another --port, or leave it out "
                    "to take the next free one."
                ) from None
            raise StudioError(
                f"Cannot listen on {host}:{port} ({error.strerror or error}); "
                "pass another --host or --port."
            ) from None


def _data_dir(value: str | None):
    """--data-dir checked; an empty one, or an empty STROKE_STUDIO_DATA, is refused (not "here")."""
    from ..store import DATA_ENV

    if value is not None:
        return limits.data_dir(value)
    if DATA_ENV in os.environ:
        limits.data_dir(os.environ[DATA_ENV], what=DATA_ENV)
    return None


def main(argv: list[str] | None = None) -> None:
    try:
        args = parse_args(argv)
        args.port, args.max_jobs = limits.port(args.port), limits.max_jobs(args.max_jobs)
        args.data_dir = _data_dir(args.data_dir)
        accounts = accounts_for(args)
        limits.engine_name(args.engine, registry)
        check_port_free(args.host, args.port)
        from ..runner import Runner
        from ..store import Store

        store = Store(args.db, args.data_dir)
    except StudioError as error:
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(1)
    os.environ.setdefault("GRADIO_TEMP_DIR", str(store.data_dir / ".gradio"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from . import build_ui, launch_options

    demo = build_ui(Runner(store), args.engine, accounts)
    # quiet: Gradio's own banner suggests `share=True`, which the studio refuses without --auth.
    demo.queue(default_concurrency_limit=args.max_jobs).launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        auth=accounts.check if accounts else None,
        max_file_size="20mb",
        quiet=True,
        prevent_thread_lock=True,
        **launch_options(demo),
    )
    print(
        f"Stroke Studio is open on {demo.local_url}"
        + (f" and {demo.share_url}" if demo.share_url else "")
        + "  (Ctrl+C stops it)",
        flush=True,
    )
    demo.block_thread()
