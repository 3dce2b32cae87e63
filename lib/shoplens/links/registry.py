"""The link registry: create a tracking link (idempotently), list links, export them as CSV.

A link is identified by its shop, its UTM values and its target: creating it again returns the one
already there. Its short code is CODE_LENGTH base62 characters from the OS's random source, checked
against the registry inside the write transaction. Writes happen inside the caller's transaction on
the working warehouse (`workspace_writer`); this module never publishes and never serves HTTP.
"""

from __future__ import annotations

import csv
import os
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from shoplens.errors import LinkError
from shoplens.links.convention import check_target, creator_handle, medium, slugify, tracked_url, utm_for
from shoplens.warehouse.db import Warehouse

ALPHABET = string.digits + string.ascii_letters
CODE_LENGTH = 7  # 62**7 = 3.5e12 codes
MAX_TRIES = 20
DEFAULT_BASE = "http://127.0.0.1:8780"
COLUMNS = ("code", "shop_id", "campaign", "creator", "channel", "content", "target_url", "tracked_url", "short_url",
           "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "utm_id", "created_at")
#: `shoplens links export --csv`: what a creator needs first, then the rest of the registry row
EXPORT_COLUMNS = ("code", "shop_id", "campaign", "creator", "channel", "content", "short_url", "qr_svg", "qr_png",
                  "tracked_url", "target_url", "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
                  "utm_id", "created_at")


@dataclass(frozen=True)
class LinkSpec:
    """What `shoplens links create` is given."""

    shop_id: str
    campaign: str
    creator: str
    channel: str
    target: str
    content: str | None = None
    term: str | None = None


def random_code() -> str:
    """CODE_LENGTH base62 characters from `secrets`."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def link_base(env: dict[str, str] | None = None) -> str:
    """The short-URL base: SHOPLENS_LINK_BASE, default http://127.0.0.1:8780 (`links serve`'s default)."""
    env = os.environ if env is None else env
    base = (env.get("SHOPLENS_LINK_BASE") or DEFAULT_BASE).strip().rstrip("/")
    try:
        check_target(base)
    except LinkError:
        raise LinkError(f"SHOPLENS_LINK_BASE {base!r} is not an http(s) URL: set it to e.g. https://go.example.com")
    if "?" in base or "#" in base:
        raise LinkError(f"SHOPLENS_LINK_BASE {base!r} has a query or fragment: give only scheme, host and path")
    return base


def create_link(warehouse: Warehouse, spec: LinkSpec, *, base: str,
                new_code: Callable[[], str] = random_code) -> tuple[dict, bool]:
    """The link for `spec` and whether it was created now (False: it existed and is returned as it was).

    Refuses, naming the field, a target that is not http(s), a UTM value that breaks the convention and
    a shop that is not in the warehouse. Call it outside any transaction: it opens its own.
    """
    target = check_target(spec.target)
    utm = utm_for(campaign=spec.campaign, creator=spec.creator, channel=spec.channel, content=spec.content,
                  term=spec.term, code="")
    shop_id = spec.shop_id.strip()
    with warehouse.transaction() as con:
        if not con.execute("SELECT count(*) FROM shops WHERE shop_id = ?", [shop_id]).fetchone()[0]:
            known = [r[0] for r in con.execute("SELECT shop_id FROM shops ORDER BY shop_id").fetchall()]
            hint = f"known shops: {', '.join(known)}" if known else "the warehouse has no shops: run `shoplens sync`"
            raise LinkError(f"shop {shop_id!r} is not in the warehouse; {hint}")
        existing = _select(con, "shop_id = ? AND utm_campaign = ? AND utm_source = ? AND utm_medium = ? AND "
                                "utm_content IS NOT DISTINCT FROM ? AND utm_term IS NOT DISTINCT FROM ? AND "
                                "target_url = ?",
                           [shop_id, utm.campaign, utm.source, utm.medium, utm.content, utm.term, target])
        if existing:
            return existing[0], False
        for _ in range(MAX_TRIES):
            code = new_code()
            if not con.execute("SELECT count(*) FROM links WHERE code = ?", [code]).fetchone()[0]:
                break
        else:
            raise LinkError(f"no free short code after {MAX_TRIES} tries: the registry is nearly full "
                            "or the code source is broken")
        utm = utm_for(campaign=spec.campaign, creator=spec.creator, channel=spec.channel, content=spec.content,
                      term=spec.term, code=code)
        row = {"code": code, "shop_id": shop_id, "campaign": spec.campaign.strip(),
               "creator": creator_handle(spec.creator), "channel": utm.medium,
               "content": spec.content.strip() if spec.content and spec.content.strip() else None,
               "target_url": target, "tracked_url": tracked_url(target, utm), "short_url": f"{base}/{code}",
               "utm_source": utm.source, "utm_medium": utm.medium, "utm_campaign": utm.campaign,
               "utm_content": utm.content, "utm_term": utm.term, "utm_id": utm.id,
               "created_at": datetime.now(UTC)}
        con.execute(f"INSERT INTO links ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    [row[c] for c in COLUMNS]).fetchall()
    return _select(warehouse.con, "code = ?", [code])[0], True


def list_links(warehouse: Warehouse, *, shop: str | None = None, campaign: str | None = None,
               creator: str | None = None, channel: str | None = None) -> list[dict]:
    """Registry rows, filtered by shop and by campaign/creator/channel as the convention spells them."""
    clauses, params = [], []
    if shop:
        clauses.append("shop_id = ?")
        params.append(shop.strip())
    if campaign:
        clauses.append("utm_campaign = ?")
        params.append(slugify(campaign))
    if creator:
        clauses.append("utm_source = ?")
        params.append(slugify(creator_handle(creator)))
    if channel:
        clauses.append("utm_medium = ?")
        params.append(medium(channel))
    where = " AND ".join(clauses) or "true"
    return _select(warehouse.con, f"{where} ORDER BY shop_id, utm_campaign, utm_source, utm_medium, created_at",
                   params)


def export_csv(rows: list[dict], out: IO[str]) -> None:
    """Write EXPORT_COLUMNS; qr_svg/qr_png are the QR files' names in the workspace's links/qr/ folder."""
    from shoplens.links.qr import qr_names

    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        svg, png = qr_names(row["code"])
        created = row["created_at"]
        writer.writerow({**{c: row.get(c) for c in EXPORT_COLUMNS}, "qr_svg": svg, "qr_png": png,
                         "created_at": created.astimezone(UTC).isoformat(timespec="seconds") if created else ""})


def _select(con, where: str, params: list) -> list[dict]:
    cursor = con.execute(f"SELECT {', '.join(COLUMNS)} FROM links WHERE {where}", params)
    return [dict(zip(COLUMNS, row, strict=True)) for row in cursor.fetchall()]
