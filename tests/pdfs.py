"""Reading the PDFs a run printed with poppler's tools (pdfinfo, pdftotext, pdftoppm), as a reviewer
would: page count, the text on each page, and the first page as a PNG kept as a test artefact."""

import os
import re
import struct
import subprocess
from pathlib import Path

#: where first pages are saved: SHOPLENS_TEST_ARTIFACTS, else test-artifacts/ (git-ignored)
ARTIFACTS = Path(os.environ.get("SHOPLENS_TEST_ARTIFACTS") or Path(__file__).resolve().parents[1] / "test-artifacts")


def page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


def page_size_pt(pdf: Path) -> tuple[float, float]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    width, height = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info, re.MULTILINE).groups()
    return float(width), float(height)


def page_texts(pdf: Path) -> list[str]:
    """The text of each page (pdftotext separates pages with form feeds)."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return text.split("\f")[:page_count(pdf)]


def save_first_page(pdf: Path, name: str) -> Path:
    """Render page 1 to ARTIFACTS/<name>.png at 60 dpi; returns the PNG's path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = ARTIFACTS / name
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
                   check=True, capture_output=True)
    return Path(f"{stem}.png")


def png_size(png: Path) -> tuple[int, int]:
    """(width, height) from the PNG header."""
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
    return struct.unpack(">II", head[16:24])
