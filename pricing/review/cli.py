"""``pricewatch review serve``, ``pricewatch users add|list|sessions`` and ``pricewatch export``."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click

from pricing.cli.common import db_option, engine_from_context


@click.group()
def review() -> None:
    """The web app where pricing managers review, approve and export suggested prices."""


@review.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port, printed at start).",
)
@click.option("--https-only", is_flag=True, help="Behind TLS: Secure cookies and HSTS.")
@click.option(
    "--stale-hours",
    default=24.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Competitor data older than this is marked stale.",
)
@click.option(
    "--strategy",
    "strategy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Strategies YAML whose currency rates convert competitor prices into ours (default: "
    "the file shipped in pricing/rules/, as for `pricewatch suggest`).",
)
def serve(
    host: str, port: int, https_only: bool, stale_hours: float, strategy_path: Path | None
) -> None:
    """Serve the review app (pages at /suggestions, JSON API under /api/).

    Sessions are signed with PRICEWATCH_SECRET_KEY; set it, or everyone is logged out when the
    server restarts. Create the first account with `pricewatch users add NAME --role admin`.
    Competitor prices in another currency are charted in ours, converted with the rates of
    --strategy: pass the file you run `pricewatch suggest --strategy` with.
    """
    import uvicorn

    from pricing.review.app import create_app
    from pricing.rules import StrategyError, load_strategies
    from pricing.store.schema import init_db

    try:
        strategies = load_strategies(strategy_path)
    except StrategyError as exc:
        raise click.ClickException(str(exc)) from None
    engine = engine_from_context()
    init_db(engine)
    app = create_app(
        engine,
        https_only=https_only,
        stale_after=timedelta(hours=stale_hours),
        strategies=strategies,
    )
    uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False)


@click.group()
def users() -> None:
    """Accounts for the review app: viewer (reads), manager (decides), admin."""


@users.command("add")
@db_option
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["viewer", "manager", "admin"]),
    required=True,
    help="viewer reads; manager approves, rejects, edits, exports; admin also manages users.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)
def users_add(name: str, role: str, password_stdin: bool) -> None:
    """Create the account NAME (asks for the password unless --password-stdin)."""
    from pricing.review.auth import UserError, create_user
    from pricing.store.schema import init_db

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = engine_from_context()
    init_db(engine)
    try:
        user_id = create_user(engine, name, password, role)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created user {name!r} (id {user_id}, role {role})")


@users.command("passwd")
@db_option
@click.argument("name")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the new password from the first line of standard input (for scripts).",
)
def users_passwd(name: str, password_stdin: bool) -> None:
    """Set a new password for NAME and log NAME out everywhere (audited)."""
    from pricing.review.auth import UserError, set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        ended = set_password(engine_from_context(), name, password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"password of {name!r} changed; {ended} session{'s' if ended != 1 else ''} ended")


@users.command("list")
@db_option
def users_list() -> None:
    """List accounts with their role and last login."""
    from sqlalchemy import select

    from pricing.store.models import User

    with engine_from_context().connect() as conn:
        rows = conn.execute(select(User).order_by(User.name)).all()
    for u in rows:
        state = "" if u.active else " (inactive)"
        click.echo(f"{u.name}\t{u.role}{state}\tlast login: {u.last_login_at or 'never'}")


@users.command("sessions")
@db_option
@click.argument("name")
@click.option(
    "--revoke",
    is_flag=True,
    help="Log NAME out everywhere: end every open session (audited). Takes effect on the "
    "next request of each browser, no server restart needed.",
)
def users_sessions(name: str, revoke: bool) -> None:
    """List the review-app sessions of NAME (newest first), or end them with --revoke.

    States: live, revoked (logout, admin change, --revoke), expired (12 h after login) and idle
    (2 h without a request), measured with the review app's default limits."""
    from sqlalchemy import select

    from pricing.review.actions import Actor, audit
    from pricing.review.sessions import (
        SessionPolicy,
        revoke_user_sessions,
        session_state,
        user_sessions,
        utc_now,
    )
    from pricing.store.models import User

    engine = engine_from_context()
    with engine.begin() as conn:
        user_id = conn.execute(select(User.id).where(User.name == name)).scalar()
        if user_id is None:
            raise click.ClickException(f"no user called {name!r}")
        if revoke:
            count = revoke_user_sessions(conn, user_id, utc_now())
            if count:
                audit(conn, Actor("cli"), "sessions_revoke", "user", name, count=count)
            click.echo(f"revoked {count} session{'s' if count != 1 else ''} of {name!r}")
            return
        rows = user_sessions(conn, user_id)
    policy, now = SessionPolicy(), utc_now()
    if not rows:
        click.echo(f"{name!r} has no sessions")
    for r in rows:
        click.echo(
            f"{r.id}\t{session_state(r, policy, now)}\tcreated {r.created_at:%Y-%m-%d %H:%M}"
            f"\tlast seen {r.last_seen_at:%Y-%m-%d %H:%M}\texpires {r.expires_at:%Y-%m-%d %H:%M}"
            f"\t{r.user_agent or '-'}"
        )


@click.command()
@db_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx"]),
    default="csv",
    show_default=True,
    help="File format.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write here (default: CSV to standard output; XLSX needs --out).",
)
@click.option(
    "--mark",
    type=click.Choice(["exported"]),
    help="Mark exactly the exported suggestions as exported (same transaction).",
)
@click.option(
    "--apply",
    "apply_",
    is_flag=True,
    help="Afterwards make approved/exported suggestions our prices (audited).",
)
def export(fmt: str, out: Path | None, mark: str | None, apply_: bool) -> None:
    """Export approved prices (approved and auto-approved suggestions not yet exported)."""
    from pricing.review.actions import Actor, apply_prices
    from pricing.review.exports import export_approved

    if fmt == "xlsx" and out is None:
        raise click.UsageError("--format xlsx needs --out FILE")
    engine = engine_from_context()
    actor = Actor("cli")
    data, count = export_approved(engine, fmt, mark=mark == "exported", actor=actor)
    if out is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        out.write_bytes(data)
    note = f", marked {mark}" if mark else ""
    click.echo(
        f"exported {count} approved price{'s' if count != 1 else ''}{note}"
        + (f" to {out}" if out else ""),
        err=True,
    )
    if apply_:
        click.echo(f"applied {apply_prices(engine, actor)} prices", err=True)
