"""The one output format every benchmark shares."""

from __future__ import annotations

import json
import os
import platform
import resource

import click


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its waited-for children, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def machine() -> str:
    return f"{os.cpu_count()}cores-{platform.machine()}-py{platform.python_version()}"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value).replace(" ", "_")


def emit(name: str, figures: dict[str, object], as_json: bool = False) -> None:
    """Print the closing line ``bench NAME: k=v k=v`` (or JSON with ``as_json``)."""
    figures = {**figures, "machine": machine()}
    if as_json:
        click.echo(json.dumps({"bench": name, **figures}, default=str))
    else:
        click.echo(f"bench {name}: " + " ".join(f"{k}={_fmt(v)}" for k, v in figures.items()))


json_option = click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
