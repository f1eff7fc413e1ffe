"""The ops daemon: scheduled crawls, then matching, suggestions and alerts.

``daemon`` runs the APScheduler schedule; ``executor`` carries out one crawl (a child process,
or Celery later); ``triggers`` turns a site's cadence into a trigger; ``lock`` keeps it to one
scheduler at a time; ``listing`` reads jobs and outcomes for ``pricewatch schedule list``.
"""

from pricing.schedule.daemon import Scheduler, ScheduleSettings
from pricing.schedule.executor import CrawlExecutor, CrawlOutcome, CrawlRequest, LocalExecutor
from pricing.schedule.lock import ProcessLock, SchedulerLocked, current_holder

__all__ = [
    "CrawlExecutor",
    "CrawlOutcome",
    "CrawlRequest",
    "LocalExecutor",
    "ProcessLock",
    "ScheduleSettings",
    "Scheduler",
    "SchedulerLocked",
    "current_holder",
]
