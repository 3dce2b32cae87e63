"""Attribution: tracked-link clicks -> converting paths -> credit under several models, side by side with
TikTok's own affiliate attribution, and touch-frequency analysis (docs/attribution.md).

    paths.py     converting paths from the warehouse (orders, links, link_clicks), read-only
    models.py    the models as pure functions; exact Decimal credit
    analysis.py  every model over the paths, roll-ups, disagreement, frequency; `run_attribution`
    platform.py  TikTok's credit of the same orders (affiliate_order_items via order_facts)
    display.py   the attribution report's tables, on a ReportContext

Nothing here writes to the warehouse or computes a catalogue KPI.
"""

from shoplens.attribution.analysis import (AttributionResult, attribute, disagreement, distribution, frequency,
                                           rollup, run_attribution)
from shoplens.attribution.models import MODEL_NAMES, MODELS, QUANTUM, Touch, credit
from shoplens.attribution.paths import conversions, touches

__all__ = ["AttributionResult", "MODELS", "MODEL_NAMES", "QUANTUM", "Touch", "attribute", "conversions", "credit",
           "disagreement", "distribution", "frequency", "rollup", "run_attribution", "touches"]
