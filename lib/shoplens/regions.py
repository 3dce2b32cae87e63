"""The TikTok Shop selling regions shoplens knows: currency, time zone and money precision.

The API's shop list gives only the region code; a shop's currency and registered time zone follow
from it. Analytics dates are in this zone; order timestamps are UTC seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from shoplens.errors import ConfigError


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    currency: str
    timezone: str
    #: digits after the decimal point that prices carry in this currency
    minor_digits: int


REGIONS: dict[str, Region] = {
    r.code: r
    for r in (
        Region("TH", "Thailand", "THB", "Asia/Bangkok", 2),
        Region("GB", "United Kingdom", "GBP", "Europe/London", 2),
        Region("US", "United States", "USD", "America/Los_Angeles", 2),
        Region("VN", "Vietnam", "VND", "Asia/Ho_Chi_Minh", 0),
        Region("MY", "Malaysia", "MYR", "Asia/Kuala_Lumpur", 2),
        Region("PH", "Philippines", "PHP", "Asia/Manila", 2),
        Region("ID", "Indonesia", "IDR", "Asia/Jakarta", 0),
        Region("SG", "Singapore", "SGD", "Asia/Singapore", 2),
    )
}


def region(code: str) -> Region:
    """The region for a two-letter code, or a ConfigError listing the known ones."""
    try:
        return REGIONS[code.upper()]
    except KeyError:
        raise ConfigError(f"unknown region {code!r}; known regions: {', '.join(REGIONS)}") from None
