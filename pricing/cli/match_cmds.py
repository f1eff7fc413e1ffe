"""``pricewatch match``: link competitor offers to our SKUs (store mode or offline CSV mode)."""

from __future__ import annotations

from pathlib import Path

import click

from pricing.cli.common import db_option, engine_from_context


@click.command()
@db_option
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Offline mode: OUR products CSV (sku,title,brand,gtin,mpn,category,price).",
)
@click.option(
    "--offers",
    "offers_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Offline mode: THEIR offers CSV (offer_id,site,title,brand,gtin,mpn,price,currency,url).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Offline mode: where to write MATCHES CSV (sku,offer_id,confidence,method,status).",
)
@click.option(
    "--full", is_flag=True, help="Store mode: re-examine every offer, not only new/changed ones."
)
@click.option(
    "--accept",
    type=click.FloatRange(0, 1),
    default=None,
    help="Confidence at or above which a match is accepted (default 0.6).",
)
@click.option(
    "--review",
    type=click.FloatRange(0, 1),
    default=None,
    help="Confidence from which a match waits for a manager (default 0.45).",
)
def match(
    catalog_path: Path | None,
    offers_path: Path | None,
    out_path: Path | None,
    full: bool,
    accept: float | None,
    review: float | None,
) -> None:
    """Match competitor offers to our products.

    Identifiers first (GTIN/EAN/UPC check-digit validated; MPN), then titles, brands and
    attributes: sizes, capacities, colours, versions and model codes must agree. Each match has
    a confidence and its evidence: accepted above --accept, status "review" (waiting for a
    manager) between --review and --accept. Prices never decide a match.

    Store mode (no --catalog/--offers): matches offers in the database that are new or changed
    since the last run; a manager's confirm or reject is final and survives re-matching.

    Offline mode: --catalog OURS.csv --offers THEIRS.csv --out MATCHES.csv, no database.
    Bad CSVs are refused whole, with every bad line named.
    """
    from pricing.matching.pairwise import Thresholds

    values = {k: v for k, v in (("accept", accept), ("review", review)) if v is not None}
    try:
        thresholds = Thresholds(**values)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    offline = [catalog_path, offers_path, out_path]
    if any(offline):
        if not all(offline):
            raise click.UsageError("offline mode needs all of --catalog, --offers and --out")
        from pricing.matching.offline import OfflineInputError, match_files

        try:
            result = match_files(catalog_path, offers_path, out_path, thresholds)
        except OfflineInputError as exc:
            for problem in exc.problems:
                click.echo(problem, err=True)
            raise click.ClickException(
                f"{len(exc.problems)} problem(s); nothing written to {out_path}"
            ) from exc
        counts = result["status"].value_counts()
        click.echo(
            f"wrote {len(result)} matches to {out_path}: accepted {counts.get('accepted', 0)}, "
            f"review {counts.get('review', 0)}"
        )
        return
    from pricing.matching.engine import run_matching
    from pricing.store.schema import init_db

    engine = engine_from_context()
    init_db(engine)
    click.echo(run_matching(engine, full=full, thresholds=thresholds).summary())
