"""Daily reference rates for the sandbox's currencies, in the format of the ECB's eurofxref-hist.csv.

The ECB publishes units of each currency per euro on TARGET working days, newest first, one column per
currency, "N/A" where it has no rate. It does not quote VND; the sandbox adds that column so every
sandbox shop can be reported in any of its currencies. Same seed, same rates. No I/O here.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

#: roughly the level of each rate per euro, and its number of decimals as the ECB writes it
_BASE = {"USD": ("1.0800", 4), "GBP": ("0.8500", 4), "THB": ("38.500", 3), "VND": ("27500.00", 2),
         "MYR": ("5.0500", 4), "PHP": ("62.500", 3), "IDR": ("17500.00", 2), "SGD": ("1.4500", 4)}


def ecb_rates_csv(first_day: date, last_day: date, seed: int = 42) -> str:
    """Rates for the working days in [first_day, last_day], as the ECB's historical CSV file."""
    rng = random.Random(seed)
    level = {c: Decimal(v) for c, (v, _) in _BASE.items()}
    rows = []
    day = first_day
    while day <= last_day:
        if day.weekday() < 5:
            for c, (_, digits) in _BASE.items():  # a small daily random walk
                level[c] *= Decimal(1 + rng.gauss(0, 0.003))
            rows.append(f"{day.isoformat()}," + ",".join(f"{level[c]:.{d}f}" for c, (_, d) in _BASE.items()) + ",")
        day += timedelta(days=1)
    return "Date," + ",".join(_BASE) + ",\n" + "\n".join(reversed(rows)) + "\n"
