"""The review web app: pricing managers review, approve, edit and export suggested prices."""

import pricing.tabular  # noqa: F401 - pandas' text storage, set before any frame is built
