"""Strategy files: the shipped default loads; broken files are refused naming file, strategy, key."""

from __future__ import annotations

import textwrap

import pytest

from pricing.rules.config import StrategyError, load_strategies


def write(tmp_path, text: str):
    path = tmp_path / "strategies.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_default_file_loads_with_documented_examples():
    sf = load_strategies()
    names = [s.name for s in sf.strategies]
    assert "default-undercut" in names and "weekend-seasonal" in names
    kinds = {s.reference.kind for s in sf.strategies}
    assert {"lowest", "lowest_in_stock", "cost_plus", "median"} <= kinds
    assert sf.settings.currency_rates.to_base()["USD"] == 1.0
    assert sf.by_name("weekend-seasonal").when.days == ["sat", "sun"]


@pytest.mark.parametrize(
    ("body", "where", "problem"),
    [
        (
            """
            strategies:
              - name: weekend
                reference: {kind: lowest}
                guards: {ending: ".49"}
            """,
            "strategy 'weekend' (strategies[0]): guards.ending",
            "Input should be '.99', '.95' or 'whole'",
        ),
        (
            """
            strategies:
              - name: ok
                reference: {kind: lowest}
              - name: second
                reference: {kind: nth_lowest}
            """,
            "strategy 'second' (strategies[1]): reference",
            "nth_lowest needs n",
        ),
        (
            """
            strategies:
              - name: typo
                reference: {kind: lowest}
                gaurds: {floor: 3}
            """,
            "strategy 'typo' (strategies[0]): gaurds",
            "Extra inputs are not permitted",
        ),
        (
            """
            strategies:
              - name: both
                reference: {kind: lowest}
                adjustment: {kind: undercut, pct: 2, amount: 1}
            """,
            "strategy 'both' (strategies[0]): adjustment",
            "undercut needs exactly one of pct or amount",
        ),
        (
            """
            settings:
              currency_rates: {base: USD, rates: {EUR: -1}}
            strategies:
              - name: x
                reference: {kind: lowest}
            """,
            "settings.currency_rates.rates",
            "rate for EUR must be positive",
        ),
        (
            """
            strategies:
              - name: lists
                reference: {kind: lowest}
                guards: {include_competitors: [a], exclude_competitors: [a]}
            """,
            "strategy 'lists' (strategies[0]): guards",
            "competitors both included and excluded",
        ),
        (
            """
            strategies:
              - name: tz
                reference: {kind: lowest}
                when: {days: [sat], timezone: Mars/Olympus}
            """,
            "strategy 'tz' (strategies[0]): when.timezone",
            "unknown time zone",
        ),
        ("strategies: []\n", "strategies", "at least 1 item"),
    ],
)
def test_broken_file_names_file_strategy_and_key(tmp_path, body, where, problem):
    path = write(tmp_path, body)
    with pytest.raises(StrategyError) as info:
        load_strategies(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {where}: ")
    assert problem in message


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "strategies:\n  - name: x\n    reference: {kind: lowest\n")
    with pytest.raises(StrategyError, match=r"line \d+, column \d+: not valid YAML"):
        load_strategies(path)


def test_duplicate_names_and_missing_file(tmp_path):
    path = write(
        tmp_path,
        """
        strategies:
          - {name: a, reference: {kind: lowest}}
          - {name: a, reference: {kind: median}}
        """,
    )
    with pytest.raises(StrategyError, match="strategy name 'a' is used twice"):
        load_strategies(path)
    with pytest.raises(StrategyError, match="cannot read"):
        load_strategies(tmp_path / "missing.yaml")
