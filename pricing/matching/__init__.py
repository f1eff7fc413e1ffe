"""Which competitor offer is which of our products.

identifiers (GTIN/MPN) -> attributes (what a title says) -> pairwise (one decision, with
evidence) -> blocking (which pairs to look at) -> matcher (best product per offer) -> engine
(store, incremental) or offline (CSV in, CSV out).
"""

import pricing.tabular  # noqa: F401 - pandas' text storage, set before any frame is built
from pricing.matching.engine import MatchReport, run_matching, set_match_status

__all__ = ["MatchReport", "run_matching", "set_match_status"]
