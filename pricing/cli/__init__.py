"""The ``pricewatch`` command.

Subcommands are imported only when used (Scrapy, pandas and FastAPI are slow to import), so
``pricewatch runs`` answers quickly. Each area of the code owns its command module; this file
only lists them. Help texts are the documentation: keep them accurate.
"""

from __future__ import annotations

import importlib

import click

from pricing.cli.common import db_option

# name -> "module:attribute". Keep sorted by workflow order; --help lists them alphabetically.
COMMANDS: dict[str, str] = {
    "init": "pricing.cli.store_cmds:init",
    "catalog": "pricing.cli.catalog_cmds:catalog",
    "simulate": "shopsim.cli:simulate",
    "sites": "crawler.cli:sites",
    "crawl": "crawler.cli:crawl",
    "runs": "crawler.cli:runs",
    "match": "pricing.cli.match_cmds:match",
    "clicks": "pricing.cli.analytics_cmds:clicks",
    "analytics": "pricing.cli.analytics_cmds:analytics",
    "suggest": "pricing.cli.rules_cmds:suggest",
    "backtest": "pricing.cli.rules_cmds:backtest",
    "review": "pricing.review.cli:review",
    "users": "pricing.review.cli:users",
    "export": "pricing.review.cli:export",
    "schedule": "pricing.cli.schedule_cmds:schedule",
    "worker": "pricing.cli.schedule_cmds:worker",
    "retention": "pricing.cli.retention_cmds:retention",
    "demo": "pricing.cli.demo_cmds:demo",
    "bench": "pricing.bench:bench",
}


class LazyGroup(click.Group):
    """A click group whose subcommands live in other modules, imported on first use."""

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attr = self.lazy_commands[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@db_option
@click.version_option(package_name="pricewatch")
def main() -> None:
    """Pricewatch: watch competitors' prices and propose explained price changes.

    Database: --db URL (or a path to an SQLite file), else PRICEWATCH_DB_URL, else
    ./pricewatch.db. Start with `pricewatch demo` to see everything working.
    """
