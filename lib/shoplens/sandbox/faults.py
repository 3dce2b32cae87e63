"""Faults the sandbox injects on demand, for reliability tests.

Two ways to switch them on, combinable: a number of upcoming requests that fail a given way
(`inject("5xx", count=3)`), or a seeded rate per kind for a whole run (`Faults.parse("429:0.05,drop:0.01")`).
Kinds: 429 (rate limit), 5xx (HTTP 500/503), slow (answer after `slow_seconds`, past a client timeout),
drop (close the connection mid-answer), malformed (a truncated JSON page), expire (every access
token expires now: 105002 follows), revoke (every token is revoked: 36009004 follows).
Faults apply to the Shop API endpoints, not to the token endpoints or the consent page.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

KINDS = ("429", "5xx", "slow", "drop", "malformed", "expire", "revoke")


@dataclass
class Faults:
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    slow_seconds: float = 2.0
    pending: dict[str, int] = field(default_factory=dict)
    #: how many of each kind were injected so far
    injected: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        unknown = [k for k in [*self.rates, *self.pending] if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
        self._rng = random.Random(self.seed)

    @classmethod
    def parse(cls, spec: str, seed: int = 0, slow_seconds: float = 2.0) -> Faults:
        """'429:0.05,5xx:0.02' -> rates per kind (each between 0 and 1)."""
        rates = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kind, _, rate = part.partition(":")
            try:
                value = float(rate)
            except ValueError:
                raise ValueError(f"fault {part!r}: write KIND:RATE, e.g. 429:0.05") from None
            if not 0 <= value <= 1:
                raise ValueError(f"fault {part!r}: the rate must be between 0 and 1")
            rates[kind] = value
        return cls(rates=rates, seed=seed, slow_seconds=slow_seconds)

    def inject(self, kind: str, count: int = 1) -> None:
        """Make the next `count` Shop API requests fail as `kind`."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        with self._lock:
            self.pending[kind] = self.pending.get(kind, 0) + count

    def next_fault(self) -> str | None:
        """The fault for the request being answered, if any (pending ones first)."""
        with self._lock:
            for kind in KINDS:
                if self.pending.get(kind):
                    self.pending[kind] -= 1
                    return self._count(kind)
            for kind in KINDS:
                rate = self.rates.get(kind, 0.0)
                if rate and self._rng.random() < rate:
                    return self._count(kind)
        return None

    def _count(self, kind: str) -> str:
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind
