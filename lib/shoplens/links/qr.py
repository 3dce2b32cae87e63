"""QR codes of short URLs, as SVG (for print) and PNG (for chat apps), under `<home>/links/qr/`.

Files are named by short code and written atomically (temporary file, then rename); an existing pair
is left alone, since a code's short URL never changes. No warehouse access here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import segno

PNG_SCALE = 10  # pixels per module: a short URL (version 3, 29 modules) is 370 px square with its quiet zone
SVG_SCALE = 4
BORDER = 4  # the quiet zone the QR standard asks for, in modules


def qr_dir(home: Path) -> Path:
    return home / "links" / "qr"


def qr_names(code: str) -> tuple[str, str]:
    """The SVG and PNG file names of a code's QR code."""
    return f"{code}.svg", f"{code}.png"


def write_qr(home: Path, code: str, short_url: str, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Make (once) the QR code of `short_url` as `<code>.svg` and `<code>.png`; returns both paths."""
    folder = qr_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    svg, png = (folder / name for name in qr_names(code))
    if svg.exists() and png.exists() and not overwrite:
        return svg, png
    symbol = segno.make(short_url, error="m", micro=False)
    _save(symbol, svg, kind="svg", scale=SVG_SCALE, border=BORDER, title=short_url)
    _save(symbol, png, kind="png", scale=PNG_SCALE, border=BORDER)
    return svg, png


def _save(symbol, path: Path, **options) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            symbol.save(handle, **options)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
