"""Send alerts through apprise: grouped into one message per burst, each state sent once.

A cycle of crawls can raise hundreds of findings at once; nobody reads hundreds of messages.
Findings arriving within ``group_window`` of the first one are held and sent as one message
per channel, grouped by kind. A finding whose key and state a channel was already sent within
``repeat_after`` is dropped, so a competitor that stays under MAP is reported once, not every
cycle. Only messages apprise confirms as sent are recorded; a failed send is retried with the
next burst.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import apprise
from sqlalchemy import Engine, select

from pricing.alerts.config import AlertKind, AlertsConfig, Channel
from pricing.alerts.detect import Alert, collect_alerts
from pricing.store.db import session_scope
from pricing.store.models import AlertSent

log = logging.getLogger(__name__)

TITLES = {
    AlertKind.crawl_health: "Crawl health",
    AlertKind.price_move: "Competitor price moves",
    AlertKind.under_map: "Selling under our MAP",
    AlertKind.out_of_stock: "Matched competitors out of stock",
    AlertKind.review_waiting: "Waiting for review",
}

Notifier = Callable[[Channel, str, str], bool]


def apprise_notify(channel: Channel, title: str, body: str) -> bool:
    """Send one message to every URL of the channel; True when apprise reports success."""
    sender = apprise.Apprise()
    for url in channel.urls:
        sender.add(url)
    return bool(sender.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))


def _fingerprint(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()[:64]


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def passes(channel: Channel, alert: Alert) -> bool:
    """Does this channel want this alert, given its kinds and thresholds?"""
    if not channel.wants(alert.kind):
        return False
    if alert.kind is AlertKind.price_move:
        return alert.magnitude >= channel.price_move_pct
    if alert.kind is AlertKind.crawl_health:
        return alert.magnitude >= (2.0 if channel.min_health == "broken" else 1.0)
    if alert.kind is AlertKind.review_waiting:
        return alert.magnitude >= channel.review_waiting_min
    return True


def render(channel: Channel, alerts: list[Alert]) -> tuple[str, str]:
    """One message: a title counting each kind, then a section per kind."""
    by_kind: dict[AlertKind, list[Alert]] = {}
    for alert in alerts:
        by_kind.setdefault(alert.kind, []).append(alert)
    counts = ", ".join(
        f"{len(items)} {kind.value.replace('_', ' ')}" for kind, items in by_kind.items()
    )
    title = f"Pricewatch: {len(alerts)} alert{'s' if len(alerts) != 1 else ''} ({counts})"
    sections = []
    for kind, items in by_kind.items():
        lines = [f"{TITLES[kind]} ({len(items)}):"]
        lines += [f"- {a.text}" for a in items[: channel.max_lines_per_kind]]
        if len(items) > channel.max_lines_per_kind:
            lines.append(f"- … and {len(items) - channel.max_lines_per_kind} more")
        sections.append("\n".join(lines))
    return title, "\n\n".join(sections)


class AlertDispatcher:
    """Collects findings, holds a burst for ``group_window`` and sends one message per channel.

    Thread-safe: the scheduler submits from whichever worker thread finished a crawl.
    """

    def __init__(
        self,
        engine: Engine,
        config: AlertsConfig,
        *,
        notifier: Notifier = apprise_notify,
        clock: Callable[[], datetime] = _now,
    ):
        self.engine = engine
        self.config = config
        self.notifier = notifier
        self.clock = clock
        self._pending: dict[tuple[AlertKind, str], Alert] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    @property
    def kinds(self) -> set[AlertKind]:
        return {kind for channel in self.config.channels for kind in channel.kinds}

    def check(self, since: datetime) -> list[Alert]:
        """Look for alerts about what happened since ``since`` and submit them."""
        alerts = collect_alerts(
            self.engine,
            since,
            kinds=self.kinds,
            price_move_pct=self.config.min_price_move_pct,
        )
        self.submit(alerts)
        return alerts

    def submit(self, alerts: Iterable[Alert]) -> None:
        """Hold alerts until the burst's window closes (at once when the window is zero)."""
        with self._lock:
            for alert in alerts:
                self._pending[(alert.kind, alert.key)] = alert  # the latest state wins
            if not self._pending:
                return
            window = self.config.group_window.total_seconds()
            if window <= 0:
                flush_now = True
            else:
                flush_now = False
                if self._timer is None:
                    self._timer = threading.Timer(window, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
        if flush_now:
            self.flush()

    def flush(self) -> dict[str, int]:
        """Send what is pending now; returns the number of alerts sent per channel."""
        with self._lock:
            alerts = list(self._pending.values())
            self._pending.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        return self.send(alerts) if alerts else {}

    def close(self) -> None:
        self.flush()

    def send(self, alerts: list[Alert]) -> dict[str, int]:
        """Filter, de-duplicate and send ``alerts`` to every channel, one message each."""
        now = self.clock()
        sent: dict[str, int] = {}
        for channel in self.config.channels:
            wanted = [a for a in alerts if passes(channel, a)]
            fresh = self._not_sent_recently(channel, wanted, now)
            if not fresh:
                continue
            title, body = render(channel, fresh)
            try:
                ok = self.notifier(channel, title, body)
            except Exception:  # a broken channel must not stop the others
                log.exception("alert channel %s failed", channel.name)
                ok = False
            if not ok:
                log.warning(
                    "alert channel %s: sending %d alert(s) failed", channel.name, len(fresh)
                )
                continue
            self._record(channel, fresh, now)
            sent[channel.name] = len(fresh)
        return sent

    def _not_sent_recently(
        self, channel: Channel, alerts: list[Alert], now: datetime
    ) -> list[Alert]:
        if not alerts:
            return []
        keys = [a.key for a in alerts]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(AlertSent.key, AlertSent.fingerprint, AlertSent.sent_at).where(
                    AlertSent.channel == channel.name, AlertSent.key.in_(keys)
                )
            ).all()
        last = {key: (fp, _aware(at)) for key, fp, at in rows}
        fresh = []
        for alert in alerts:
            previous = last.get(alert.key)
            if (
                previous
                and previous[0] == _fingerprint(alert.state)
                and now - previous[1] < channel.repeat_after
            ):
                continue
            fresh.append(alert)
        return fresh

    def _record(self, channel: Channel, alerts: list[Alert], now: datetime) -> None:
        with session_scope(self.engine) as session:
            existing = {
                row.key: row
                for row in session.scalars(
                    select(AlertSent).where(
                        AlertSent.channel == channel.name,
                        AlertSent.key.in_([a.key for a in alerts]),
                    )
                )
            }
            for alert in alerts:
                row = existing.get(alert.key)
                if row is None:
                    row = AlertSent(channel=channel.name, key=alert.key)
                    session.add(row)
                row.fingerprint = _fingerprint(alert.state)
                row.sent_at = now
