"""Did-you-mean: the closest known names to a mistyped one, worded the same for every "unknown ..." message.

One helper for commands, options, metrics, reports, dimensions, shop ids, resources and languages, so a
user who mistypes any name is offered the closest known ones (difflib ratio, case-insensitive) and told
where the full list is. It must never import anything from shoplens: every layer may use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import get_close_matches

#: how alike (difflib ratio) a known name must be to be offered
CUTOFF = 0.6
#: a list of known names this short is shown in the message itself
SHOW_AT_MOST = 16


def closest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Up to `n` known names closest to `name`, best first; a known name that differs only in case comes first."""
    by_lower: dict[str, str] = {}
    for k in known:
        by_lower.setdefault(str(k).lower(), str(k))
    return [by_lower[m] for m in get_close_matches(str(name).lower(), list(by_lower), n=n, cutoff=CUTOFF)]


def either(names: Sequence[str]) -> str:
    """"a", "a or b", "a, b or c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def unknown(kind: str, names: str | Iterable[str], known: Iterable[str], *, plural: str | None = None,
            listed_by: str | None = None, none_known: str | None = None) -> str:
    """The message for names nobody knows: "unknown metric 'gmvv': did you mean gmv? (`shoplens metrics
    list` lists all 57)". Without a close match a short list of known names is shown instead, or where the
    full list is (`listed_by`, a command); `none_known` is said when there is nothing to choose from."""
    names = [names] if isinstance(names, str) else [str(n) for n in names]
    known = list(dict.fromkeys(str(k) for k in known))
    plural = plural or f"{kind}s"
    head = f"unknown {kind if len(names) == 1 else plural} {', '.join(repr(n) for n in names)}"
    if not known:
        return f"{head}; {none_known or f'there are no {plural}'}"
    guesses = [(name, closest(name, known)) for name in names]
    hits = [(name, found) for name, found in guesses if found]
    if len(names) == 1 and hits:
        hint = f": did you mean {either(hits[0][1])}?"
    elif hits:
        hint = ": did you mean " + "; ".join(f"{either(found)} for {name!r}" for name, found in hits) + "?"
    else:
        hint = ""
    if listed_by and (hits or len(known) > SHOW_AT_MOST):
        where = f"`{listed_by}` lists " + ("it" if len(known) == 1 else f"all {len(known)}")
        return f"{head}{hint} ({where})" if hits else f"{head}; {where}"
    if hits:
        return head + hint
    shown = ", ".join(known[:SHOW_AT_MOST]) + (f" and {len(known) - SHOW_AT_MOST} more" if len(known) > SHOW_AT_MOST else "")
    return f"{head}; known {plural}: {shown}"
