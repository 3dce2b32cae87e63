"""The UTM naming convention: how a link's campaign, creator, channel and content become UTM values.

    utm_source    the creator (handle), slugged            e.g. "@Lily.Tan"       -> "lily-tan"
    utm_medium    the channel, one of ALLOWED_MEDIUMS      e.g. "Paid Social"     -> "paid_social"
    utm_campaign  the campaign, slugged                    e.g. "Black Friday 26" -> "black-friday-26"
    utm_content   the content (optional), slugged          e.g. "video 7301"      -> "video-7301"
    utm_term      the term (optional), slugged
    utm_id        the link's short code (unique per link)

A slug is lower case ASCII letters and digits joined by single hyphens, at most MAX_SLUG characters;
accents are dropped ("Café" -> "cafe"). A value with nothing left after slugging, or longer than the
limit, is refused with a message naming the field. This module does no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus, urlencode, urlsplit, urlunsplit

from shoplens.errors import LinkError

ALLOWED_MEDIUMS = ("affiliate", "influencer", "paid_social", "social", "email", "referral", "cpc")
MAX_SLUG = 60
MAX_URL = 2048
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "utm_id")

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Utm:
    """The six UTM values of one link (content and term may be None)."""

    source: str
    medium: str
    campaign: str
    content: str | None
    term: str | None
    id: str

    def params(self) -> list[tuple[str, str]]:
        """The parameters in convention order, empty ones left out."""
        values = (self.source, self.medium, self.campaign, self.content, self.term, self.id)
        return [(key, value) for key, value in zip(UTM_KEYS, values, strict=True) if value]


def slugify(value: str) -> str:
    """Lower case ASCII letters and digits joined by single hyphens ("Black Friday!" -> "black-friday")."""
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG.sub("-", folded.lower()).strip("-")


def slug_field(value: str, field: str, *, given: str | None = None) -> str:
    """`value` slugged, or a LinkError naming `field` (and the value as `given`) when the slug would be
    empty or too long."""
    slug = slugify(value)
    given = value if given is None else given
    if not slug:
        raise LinkError(f"{field} {given!r} has no latin letters or digits to make a UTM value from: "
                        f"use e.g. {_EXAMPLES.get(field, 'summer-sale')!r}")
    if len(slug) > MAX_SLUG:
        raise LinkError(f"{field} {given!r} is {len(slug)} characters once slugged; the convention allows "
                        f"{MAX_SLUG}: shorten it")
    return slug


_EXAMPLES = {"campaign": "black-friday-2026", "creator": "lily-tan", "content": "video-7301", "term": "red-dress"}


def medium(channel: str) -> str:
    """The channel as a utm_medium from ALLOWED_MEDIUMS ("Paid Social" -> "paid_social"), or a LinkError."""
    value = re.sub(r"[\s-]+", "_", channel.strip().lower())
    if value not in ALLOWED_MEDIUMS:
        raise LinkError(f"channel {channel!r} is not an allowed utm_medium: use one of {', '.join(ALLOWED_MEDIUMS)}")
    return value


def creator_handle(creator: str) -> str:
    """The creator as stored: trimmed, without a leading '@'."""
    return creator.strip().removeprefix("@").strip()


def check_target(url: str) -> str:
    """The target URL trimmed and percent-encoded where needed, or a LinkError naming `target` unless it
    is an absolute http(s) URL."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise LinkError(f"target is {len(url)} characters long; the limit is {MAX_URL}")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise LinkError(f"target {url!r} contains spaces or control characters: percent-encode them")
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        raise LinkError(f"target {url!r} is not an http(s) URL: give the full address, e.g. "
                        "https://shop.tiktok.com/view/product/1729")
    netloc = parts.netloc
    if not netloc.isascii():  # a Location header is ASCII: punycode the host
        try:
            netloc = netloc.encode("idna").decode("ascii")
        except UnicodeError:
            raise LinkError(f"target {url!r} has a host name that cannot be encoded: check it") from None
    # percent-encode what may not appear in a URL (non-ASCII, <>"{}|\^` ...); existing %XX stay as they are
    return urlunsplit(parts._replace(netloc=netloc, path=quote(parts.path, safe=_SAFE),
                                     query=quote(parts.query, safe=_SAFE), fragment=quote(parts.fragment, safe=_SAFE)))


_SAFE = "/?#[]@!$&'()*+,;=%:~"


def utm_for(*, campaign: str, creator: str, channel: str, content: str | None, term: str | None,
            code: str) -> Utm:
    """Apply the convention; every refusal names its field."""
    return Utm(source=slug_field(creator_handle(creator), "creator", given=creator), medium=medium(channel),
               campaign=slug_field(campaign, "campaign"),
               content=slug_field(content, "content") if content and content.strip() else None,
               term=slug_field(term, "term") if term and term.strip() else None, id=code)


def tracked_url(target: str, utm: Utm) -> str:
    """The target with the UTM parameters merged into its query; ours replace any utm_* it had.

    The target's other parameters are kept byte for byte (order and encoding), the fragment too.
    """
    parts = urlsplit(target)
    kept = [pair for pair in parts.query.split("&")
            if pair and unquote_plus(pair.partition("=")[0]).lower() not in UTM_KEYS]
    return urlunsplit(parts._replace(query="&".join(kept + [urlencode(utm.params())])))
