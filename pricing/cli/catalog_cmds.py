"""``pricewatch catalog import``: load our own products from CSV or XLSX."""

from __future__ import annotations

from pathlib import Path

import click

from pricing.cli.common import db_option, engine_from_context


def _parse_map(_ctx, _param, values: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for item in values:
        src, sep, dst = item.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise click.BadParameter(f"{item!r}: expected SOURCE=COLUMN, e.g. Artikelnummer=sku")
        mapping[src.strip()] = dst.strip()
    return mapping


@click.group()
def catalog() -> None:
    """Our own products: import and validate the catalog."""


@catalog.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--dry-run", is_flag=True, help="Validate and report what would change; write nothing."
)
@click.option(
    "--map",
    "column_map",
    multiple=True,
    callback=_parse_map,
    metavar="SRC=COLUMN",
    help="Read the file's column SRC as catalog column COLUMN (repeatable).",
)
@db_option
def import_(file: Path, dry_run: bool, column_map: dict[str, str]) -> None:
    """Import FILE (CSV or XLSX) into our product catalog, all or nothing.

    Columns: sku, title, brand, gtin, mpn, category, tags, cost, price, floor, ceiling, map,
    currency (sku, title and currency required). Every row is validated first; if any row is
    bad, nothing is imported and every bad row is listed with its line number. Re-importing
    updates changed products and records our own price changes as history.
    """
    from pricing.catalog import CatalogError, import_catalog
    from pricing.store.schema import current_revision

    engine = engine_from_context()
    try:
        if current_revision(engine) is None:
            raise click.ClickException(
                f"{engine.url.render_as_string()} has no schema yet: run `pricewatch init` first"
            )
        report = import_catalog(engine, file, dry_run=dry_run, column_map=column_map)
    except CatalogError as exc:
        for problem in exc.problems:
            click.echo(f"{file}: {problem}", err=True)
        raise click.ClickException(
            f"{len(exc.problems)} problem(s) in {file}; nothing was imported"
        ) from exc
    finally:
        engine.dispose()
    click.echo(report.describe())
