"""``pricewatch suggest`` and ``pricewatch backtest``: the rules engine's commands."""

from __future__ import annotations

from pathlib import Path

import click

from pricing.cli.common import db_option, engine_from_context

_strategy_option = click.option(
    "--strategy",
    "strategy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Strategies YAML file (default: the file shipped in pricing/rules/).",
)


@click.command()
@_strategy_option
@click.option(
    "--dry-run", is_flag=True, help="Evaluate and show what would be proposed; write nothing."
)
@click.option(
    "--show",
    default=10,
    show_default=True,
    help="How many suggestions to print (largest changes first).",
)
@db_option
def suggest(strategy_path: Path | None, dry_run: bool, show: int) -> None:
    """Evaluate every product under its strategy and store explained price suggestions.

    Each suggestion holds the current and proposed price, change %, margin before and after,
    the strategy, the age of the oldest competitor data used and a readable explanation. An
    unchanged price makes no suggestion; pending suggestions of the products this run decided
    are superseded; changes below settings.auto_approve_below_pct are auto-approved (and
    recorded in decisions and the audit log). A broken strategy file is refused and nothing is
    written.
    """
    from pricing.rules.config import StrategyError, load_strategies
    from pricing.rules.run import run_suggestions

    try:
        sf = load_strategies(strategy_path)
    except StrategyError as exc:
        raise click.ClickException(str(exc)) from None
    report = run_suggestions(engine_from_context(), sf, dry_run=dry_run)
    click.echo(report.summary())
    t = report.timings
    click.echo(
        f"timings: read {t['read_s']:.2f}s, evaluate {t['evaluate_s']:.2f}s, write {t['write_s']:.2f}s"
    )
    rows = report.suggestions
    if rows is None or not len(rows) or show <= 0:
        return
    top = rows.reindex(rows["change_pct"].abs().sort_values(ascending=False).index).head(show)
    click.echo(f"{'would propose' if dry_run else 'proposed'} (largest changes first):")
    for r in top.itertuples():
        click.echo(
            f"  product {r.product_id} [{r.strategy}] {r.current_price:.2f} → {r.proposed_price:.2f} "
            f"{r.currency} ({r.change_pct:+.1f}%, {r.status}): {r.explanation}"
        )


@click.command()
@_strategy_option
@click.option(
    "--days",
    default=30,
    show_default=True,
    type=click.IntRange(1, 366),
    help="Days of history to replay.",
)
@click.option(
    "--compare",
    "compare_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A second strategies file, shown side by side.",
)
@db_option
def backtest(strategy_path: Path | None, days: int, compare_path: Path | None) -> None:
    """Replay stored history: what a strategy would have proposed, day by day.

    Competitor prices are taken point-in-time (each day's state from the change-only
    history); our price follows the strategy's proposals. Effects on units, revenue and margin
    use the elasticity from analytics (constant-elasticity demand). Flags oscillation (a price
    going back and forth) and price-war spirals (repeated undercutting stopped only by a floor).
    Nothing is written.
    """
    from pricing.rules.backtest import format_backtest, run_backtest
    from pricing.rules.config import StrategyError, load_strategies

    try:
        files = [load_strategies(strategy_path)]
        if compare_path is not None:
            files.append(load_strategies(compare_path))
    except StrategyError as exc:
        raise click.ClickException(str(exc)) from None
    engine = engine_from_context()
    results = [run_backtest(engine, sf, days=days) for sf in files]
    click.echo(format_backtest(results))
