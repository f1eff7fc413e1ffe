"""The rules engine: configurable strategies that propose explained price changes.

``run_suggestions(engine, strategies=None, now=None, dry_run=False)`` is the entry point;
strategies are YAML (see ``default_strategies.yaml`` next to this file for documented examples).
The engine reads the store and writes suggestions; it never touches HTTP.
"""

import pricing.tabular  # noqa: F401 - pandas' text storage, set before any frame is built
from pricing.rules.config import StrategyError, StrategyFile, load_strategies, parse_strategies
from pricing.rules.run import SuggestReport, run_suggestions

__all__ = [
    "StrategyError",
    "StrategyFile",
    "SuggestReport",
    "load_strategies",
    "parse_strategies",
    "run_suggestions",
]
