"""A site's :class:`~crawler.siteconfig.Cadence` as an APScheduler trigger.

``every`` becomes an interval trigger, ``cron`` a cron trigger, both with the site's jitter
(so 72 sites on "every 6h" do not all start in the same second). ``active_hours`` wraps either
in :class:`ActiveHoursTrigger`: a fire time outside the window moves to the window's next start.

A *fast clock* (tests, demos) compresses time: with ``scale=3600`` an hour of cadence passes in
a second. A cron cadence has no meaningful compressed form, so on a fast clock it runs at its
typical interval (the gap between its next two fire times), compressed; active hours are
ignored on a fast clock.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.siteconfig import Cadence


class ActiveHoursTrigger(BaseTrigger):
    """Fire as ``inner`` says, but only between ``start`` and ``end`` local time.

    A window may cross midnight (22:00-06:00). Picklable, so it lives in the job store.
    """

    def __init__(self, inner: BaseTrigger, start: time, end: time, timezone: tzinfo):
        self.inner, self.start, self.end, self.timezone = inner, start, end, timezone

    def _inside(self, moment: datetime) -> bool:
        local = moment.astimezone(self.timezone).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def _next_window_start(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.timezone)
        candidate = local.replace(
            hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0
        )
        if candidate <= local:
            candidate += timedelta(days=1)
        return candidate

    def get_next_fire_time(self, previous_fire_time, now):
        fire = self.inner.get_next_fire_time(previous_fire_time, now)
        for _ in range(8):  # a few hops reach the next window whatever the inner cadence
            if fire is None or self._inside(fire):
                return fire
            fire = self.inner.get_next_fire_time(fire, self._next_window_start(fire))
        return fire

    def __str__(self) -> str:
        return f"{self.inner} during {self.start:%H:%M}-{self.end:%H:%M}"

    def __repr__(self) -> str:
        return f"<ActiveHoursTrigger ({self})>"


def _cron_period(cron: str, timezone: tzinfo) -> timedelta:
    trigger = CronTrigger.from_crontab(cron, timezone=timezone)
    now = datetime.now(timezone)
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    return second - first


def trigger_for(
    cadence: Cadence, *, timezone: tzinfo, scale: float = 1.0, start: datetime | None = None
) -> BaseTrigger:
    """The trigger for a cadence; ``scale`` > 1 compresses time (a fast clock).

    ``start`` anchors an interval's grid (default: now)."""
    jitter = cadence.jitter.total_seconds() / scale or None
    if scale != 1.0:
        period = cadence.every or _cron_period(cadence.cron, timezone)
        return IntervalTrigger(
            seconds=max(period.total_seconds() / scale, 0.5), jitter=jitter, start_date=start
        )
    if cadence.every is not None:
        trigger: BaseTrigger = IntervalTrigger(
            seconds=cadence.every.total_seconds(),
            jitter=jitter,
            timezone=timezone,
            start_date=start,
        )
    else:
        trigger = CronTrigger.from_crontab(cadence.cron, timezone=timezone)
        trigger.jitter = jitter
    if cadence.active_hours:
        start, end = cadence.active_hours
        trigger = ActiveHoursTrigger(trigger, start, end, timezone)
    return trigger


def describe(cadence: Cadence, scale: float = 1.0) -> str:
    """A stable text for the cadence: when it changes, the stored job is replaced."""
    parts = [f"every {cadence.every}" if cadence.every else f"cron {cadence.cron}"]
    if cadence.jitter:
        parts.append(f"jitter {cadence.jitter}")
    if cadence.active_hours:
        parts.append(f"{cadence.active_hours[0]:%H:%M}-{cadence.active_hours[1]:%H:%M}")
    if scale != 1.0:
        parts.append(f"fast clock x{scale:g}")
    return ", ".join(parts)
