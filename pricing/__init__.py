"""Pricewatch: crawl competitor shops, keep price history, propose explained price changes."""

import pandas as pd

# pandas 3 stores text columns in pyarrow arrays whenever pyarrow is installed (it is, for the
# ADBC reader). Element-wise work on them (maps, string building, per-row lookups), which the
# rules engine and matching do a lot of, is slower than on Python strings: a suggest run at
# bench scale took 8.1 s against 5.0 s (evaluation 3.0 s against 1.4 s, measured). Text
# columns stay Python strings, as they were before pyarrow came in.
pd.options.mode.string_storage = "python"
