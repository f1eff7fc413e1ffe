"""pandas as Pricewatch's tabular code was written and measured for: text as Python strings.

pandas 3 stores text columns in pyarrow arrays whenever pyarrow is installed (it is, for the
ADBC reader, pricing/rules/arrow_columns.py). Element-wise work on them (maps, string
building, per-row lookups), which the rules engine, matching and analytics do a lot of, is
slower than on Python strings: a suggest run at bench scale took 8.1 s against 5.0 s
(evaluation 3.0 s against 1.4 s, measured). So text columns stay Python strings.

Imported by the packages that use pandas, not by ``pricing`` itself: crawler processes
import ``pricing.store`` and must not pay for importing pandas (0.5 s a process, measured).
"""

import pandas as pd

pd.options.mode.string_storage = "python"
