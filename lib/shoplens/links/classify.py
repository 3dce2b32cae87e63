"""What the redirect server keeps of a visitor: a bot flag, a device class and a hash of the network.

It must never keep (or log) the IP address or the user-agent string themselves.

User-agent rules, applied to the lower-cased string, first match wins:

    bot     empty user agent; or any of BOT_MARKERS (crawlers, link-preview fetchers, HTTP libraries,
            headless browsers, uptime monitors), after removing NOT_BOTS (device names containing "bot")
    device  tablet   "ipad", "tablet", "kindle", "silk", or "android" without "mobile"
            mobile   "mobi", "iphone", "ipod", "android", "windows phone"
            desktop  "windows nt", "macintosh", "x11", "cros", "linux"
            other    anything else (most bots land here)

The IP address is cut to its /24 (IPv4) or /48 (IPv6) network and hashed with HMAC-SHA256 keyed by a
random salt kept in the workspace (`.shoplens/link_salt`, mode 0600); 16 hex characters are kept. The
same network gives the same hash in one workspace, and nothing outside it can reverse the hash by trying
every network. Deleting the salt file makes later hashes unlinkable to earlier ones.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import secrets
import time
from functools import lru_cache
from hashlib import sha256
from pathlib import Path
from urllib.parse import urlsplit

from shoplens.errors import LinkError

BOT_MARKERS = re.compile(
    r"bot\b|bot[/_-]|crawl|spider|slurp|archiver|facebookexternalhit|facebookcatalog|whatsapp|embedly|iframely"
    r"|preview|headlesschrome|phantomjs|lighthouse|pingdom|uptime|monitor|curl/|wget/|httpie|python-|python/"
    r"|aiohttp|httpx|go-http-client|java/|okhttp|libwww|scrapy|node-fetch|axios/|postman"
)
NOT_BOTS = ("cubot",)  # a phone maker
_TABLET = ("ipad", "tablet", "kindle", "silk")
_MOBILE = ("mobi", "iphone", "ipod", "android", "windows phone")
_DESKTOP = ("windows nt", "macintosh", "x11", "cros", "linux")
MAX_AGENT = 512  # longer strings are classified on their first 512 characters


@lru_cache(maxsize=8192)
def classify_agent(user_agent: str) -> tuple[bool, str]:
    """(is_bot, device) for a user-agent string; device is mobile, tablet, desktop or other."""
    ua = user_agent[:MAX_AGENT].lower()
    for name in NOT_BOTS:
        ua = ua.replace(name, "")
    is_bot = not ua.strip() or BOT_MARKERS.search(ua) is not None
    if any(m in ua for m in _TABLET) or ("android" in ua and "mobile" not in ua):
        device = "tablet"
    elif any(m in ua for m in _MOBILE):
        device = "mobile"
    elif any(m in ua for m in _DESKTOP):
        device = "desktop"
    else:
        device = "other"
    return is_bot, device


_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}")


def network_of(ip: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of an address as text; None when it is not an address."""
    dotted = _IPV4.fullmatch(ip)
    if dotted:  # the common case, without building ipaddress objects
        octets = [int(o) for o in dotted.groups()]
        if max(octets) <= 255 and int(ip.rpartition(".")[2]) <= 255:
            return f"{octets[0]}.{octets[1]}.{octets[2]}.0/24"
        return None
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class IpHasher:
    """Keyed hashes of IP networks: `hasher(ip)` -> 16 hex characters, or None."""

    def __init__(self, salt: bytes) -> None:
        if len(salt) < 16:
            raise LinkError("the link salt is shorter than 16 bytes: delete .shoplens/link_salt to make a new one")
        self._salt = salt
        self._hash = lru_cache(maxsize=65536)(self._hash_network)

    def _hash_network(self, network: str) -> str:
        return hmac.new(self._salt, network.encode("ascii"), sha256).hexdigest()[:16]

    def __call__(self, ip: str | None) -> str | None:
        network = network_of(ip) if ip else None
        return self._hash(network) if network else None


def referrer_host(referer: str | None) -> str | None:
    """Only the host of a Referer header (never its path or query), lower case; None when absent."""
    if not referer:
        return None
    try:
        host = urlsplit(referer[:2048]).hostname
    except ValueError:
        return None
    return host[:255] if host else None


def load_salt(home: Path) -> bytes:
    """The workspace's IP-hash salt, made once (32 random bytes, hex, mode 0600) on first use."""
    path = home / ".shoplens" / "link_salt"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it right now
            text = path.read_text(encoding="ascii").strip()
            if len(text) >= 32:
                return bytes.fromhex(text)
            time.sleep(0.02)
        raise LinkError(f"{path} is empty or damaged: delete it and a new salt is made "
                        "(earlier IP hashes then no longer match later ones)") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32))
        handle.flush()
        os.fsync(handle.fileno())
    return bytes.fromhex(path.read_text(encoding="ascii").strip())
