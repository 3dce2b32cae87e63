"""A local emulator of the TikTok Shop Open API over seeded synthetic data.

It speaks the real protocol (signatures, timestamp window, tokens that expire, shop ciphers, cursors,
rate limits) so the same client code talks to it and to the real API. Imports nothing from sync,
warehouse or reports.
"""

from __future__ import annotations

import secrets

from shoplens.sandbox.app import Sandbox, create_app
from shoplens.sandbox.business import Business, generate_business, sandbox_shop_id
from shoplens.sandbox.faults import Faults
from shoplens.sandbox.protocol import Gatekeeper
from shoplens.sandbox.server import SandboxServer

#: The sandbox's own app key; its secret is chosen per run unless given.
SANDBOX_APP_KEY = "sandbox-app"


def make_sandbox(seed: int = 42, shops: int = 3, *, orders_per_day: int = 40, app_key: str = SANDBOX_APP_KEY,
                 app_secret: str | None = None, qps: float = 50.0, token_ttl: int = 7 * 86_400,
                 days: int | None = None, hostile: bool = False, faults: Faults | None = None,
                 clock_skew: float = 0.0, regions: tuple[str, ...] | None = None) -> Sandbox:
    """A sandbox over a freshly generated business; `clock_skew` sets the gateway's clock ahead (or behind);
    `regions` puts shop i in regions[i % len(regions)] (default: the eight markets in turn)."""
    kwargs = ({"days": days} if days else {}) | ({"regions": tuple(regions)} if regions else {})
    business = generate_business(seed, shops, orders_per_day=orders_per_day, hostile=hostile, **kwargs)
    gate = Gatekeeper(app_key=app_key, app_secret=app_secret or secrets.token_hex(16), qps=qps, token_ttl=token_ttl,
                      clock_skew=clock_skew)
    return Sandbox(business=business, gate=gate, faults=faults or Faults())


__all__ = ["Business", "Faults", "Gatekeeper", "SANDBOX_APP_KEY", "Sandbox", "SandboxServer", "create_app",
           "generate_business", "make_sandbox", "sandbox_shop_id"]
