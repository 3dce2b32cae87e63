"""Attribution models: how one order's value is split over the touches on its converting path.

Each model gives every touch a weight (an exact fraction, summing to 1):

    last_click      the latest touch gets everything (LinkStar's default)
    first_click     the earliest touch gets everything
    linear          every touch 1/n
    time_decay      2^(-(t_last - t_i) / half-life): a touch one half-life before the latest counts half
    position_based  40 % first, 40 % last, 20 % shared by the touches between; one touch 100 %, two 50/50

`credit()` turns the weights into money that adds up to the order's value exactly: every touch gets its
exact share rounded down to the QUANTUM (0.0001, the warehouse's money precision), and the quanta left
over go one each to the touches with the largest remainders; a tie goes to the touch later on the path
(paths are ordered by time, then link code, then click id). docs/attribution.md has worked examples.

Pure functions on plain values. This module must never read the warehouse, never use a float for
money, and never return credit that does not add up to the order's value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from fractions import Fraction

from shoplens.errors import AttributionError

#: credit is exact to the warehouse's money precision, DECIMAL(20, 4)
QUANTUM = Decimal("0.0001")
DEFAULT_HALF_LIFE_DAYS = 7


@dataclass(frozen=True)
class Touch:
    """One touch on a path: when, which link (its short code), and the click's id (the last tie-break)."""

    at: datetime
    code: str
    click_id: str = ""


Weights = Callable[[Sequence[Touch], float], list[Fraction]]


def last_click(touches: Sequence[Touch], half_life_days: float) -> list[Fraction]:
    return [Fraction(0)] * (len(touches) - 1) + [Fraction(1)]


def first_click(touches: Sequence[Touch], half_life_days: float) -> list[Fraction]:
    return [Fraction(1)] + [Fraction(0)] * (len(touches) - 1)


def linear(touches: Sequence[Touch], half_life_days: float) -> list[Fraction]:
    return [Fraction(1, len(touches))] * len(touches)


def time_decay(touches: Sequence[Touch], half_life_days: float) -> list[Fraction]:
    """2^(-age / half-life), the age measured back from the latest touch (normalising makes measuring it
    from the order the same thing). Touches at the same instant get exactly the same weight."""
    latest = touches[-1].at
    half_life_us = Decimal(half_life_days) * 86_400 * 10**6
    with localcontext() as ctx:
        ctx.prec = 40
        weights = []
        for touch in touches:
            age = latest - touch.at
            age_us = (age.days * 86_400 + age.seconds) * 10**6 + age.microseconds
            weights.append(Fraction(Decimal(2) ** (-Decimal(age_us) / half_life_us)))
    total = sum(weights)
    return [w / total for w in weights]


def position_based(touches: Sequence[Touch], half_life_days: float) -> list[Fraction]:
    n = len(touches)
    if n <= 2:
        return [Fraction(1, n)] * n
    middle = Fraction(1, 5) / (n - 2)
    return [Fraction(2, 5)] + [middle] * (n - 2) + [Fraction(2, 5)]


#: model name -> weight function; the order is the order reports show them in
MODELS: dict[str, Weights] = {"last_click": last_click, "first_click": first_click, "linear": linear,
                              "time_decay": time_decay, "position_based": position_based}
MODEL_NAMES = tuple(MODELS)


def check_model(model: str) -> str:
    if model not in MODELS:
        raise AttributionError(f"unknown attribution model {model!r}; use one of {', '.join(MODEL_NAMES)}")
    return model


def check_days(value, name: str) -> float:
    """A positive number of days (look-back window, half-life), or an AttributionError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)) or not 0 < value < 10_000:
        raise AttributionError(f"{name} {value!r} is not a number of days above 0 (e.g. {name} = 7)")
    return float(value)


def path_order(touches: Sequence[Touch]) -> list[int]:
    """Indices of `touches` in path order: time, then link code, then click id."""
    return sorted(range(len(touches)), key=lambda i: (touches[i].at, touches[i].code, touches[i].click_id))


def credit(path_touches: Sequence[Touch], order_value: Decimal, model: str, *,
           half_life_days: float = DEFAULT_HALF_LIFE_DAYS, quantum: Decimal = QUANTUM) -> list[Decimal]:
    """Each touch's credit (in the order given) under `model`; the credits add up to `order_value` exactly.

    `order_value` is a Decimal (or int) and a whole number of `quantum`s; a path without touches gets no
    credit (an empty list).
    """
    check_model(model)
    check_days(half_life_days, "half_life_days")
    if isinstance(order_value, float) or not isinstance(order_value, (Decimal, int)):
        raise AttributionError(f"order value {order_value!r}: give money as a Decimal, never a float")
    value = Decimal(order_value)
    units = value / quantum
    if not value.is_finite() or value < 0 or units != units.to_integral_value():
        raise AttributionError(f"order value {value} is not a non-negative multiple of {quantum}")
    touches = list(path_touches)
    if not touches:
        return []
    order = path_order(touches)
    weights = MODELS[model]([touches[i] for i in order], half_life_days)
    total_units = int(units)
    shares = [total_units * w / sum(weights) for w in weights]  # in quanta, exact
    whole = [s.numerator // s.denominator for s in shares]
    left = total_units - sum(whole)  # fewer than the number of touches with a remainder
    # largest remainder first; a tie goes to the later touch on the path
    for k in sorted(range(len(shares)), key=lambda k: (shares[k] - whole[k], k), reverse=True)[:left]:
        whole[k] += 1
    result: list[Decimal] = [Decimal(0)] * len(touches)
    for position, index in enumerate(order):
        result[index] = whole[position] * quantum
    return result
