"""Alerts: find what an operator or a pricing manager must know, and tell them via apprise.

``config`` validates the channels file, ``detect`` finds alerts in the store, ``dispatch``
groups bursts into one message per channel and de-duplicates across cycles.
"""

from pricing.alerts.config import (
    AlertKind,
    AlertsConfig,
    AlertsConfigError,
    Channel,
    load_alerts_config,
    parse_alerts_config,
)
from pricing.alerts.detect import Alert, collect_alerts
from pricing.alerts.dispatch import AlertDispatcher, apprise_notify, render

__all__ = [
    "Alert",
    "AlertDispatcher",
    "AlertKind",
    "AlertsConfig",
    "AlertsConfigError",
    "Channel",
    "apprise_notify",
    "collect_alerts",
    "load_alerts_config",
    "parse_alerts_config",
    "render",
]
