#!/usr/bin/env python3
"""Regenerate the sample brand-guideline PDFs and the hostile PDF test fixtures.

How to run (from the repository root, CPython 3.11+):

    pip install fpdf2==2.8.9
    python3 guidelines/generate.py

fpdf2 2.8.9 pulls in Pillow (used here for the scanned-page image and the
PNG-bytes fixture); nothing else is needed.

Inputs and outputs:

    guidelines/src/<slug>.md  ->  guidelines/<slug>.pdf   (one PDF per markdown file)
    tests/fixtures/pdfs/*.pdf                             (bad / hostile fixtures)

Markdown subset understood by this script:

    # Title                  document title, page 1 only (bold, 20 pt)
    ## Heading               section heading (bold, 14 pt)
    ### Sub-heading          sub-heading (bold, 11.5 pt)
    - item                   bullet item (rendered with a "-" bullet)
    <!-- page -->            forced page break (a line containing only this)
    anything else            body text; consecutive lines form one paragraph

Every page gets a footer "<Brand> Brand Guidelines" on the left and "Page N"
on the right. The script fails if a page overflows (i.e. the PDF would have
more pages than the markdown declares), so page numbers cited in
guidelines/questions.json stay stable. Text uses the standard Helvetica font
(WinAnsi encoding, ASCII-only sources), so the PDFs carry a real text layer.

Output is deterministic: the creation date is fixed, and fpdf2 derives the
document /ID (and the RC4 key of the encrypted fixture) from the content.
"""

from __future__ import annotations

import io
import sys
from datetime import datetime, timezone
from pathlib import Path

try:
    import fpdf
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod, XPos, YPos
except ImportError:  # pragma: no cover
    sys.exit("fpdf2 is required: pip install fpdf2==2.8.9")

PINNED_FPDF2 = "2.8.9"
FIXED_DATE = datetime(2025, 1, 1, 0, 0, 0, tzinfo=timezone.utc)
PAGE_MARKER = "<!-- page -->"

ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = ROOT / "guidelines" / "src"
OUT_DIR = ROOT / "guidelines"
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "pdfs"

BODY_SIZE = 10.5
LINE_H = 5.2


class GuidelinePDF(FPDF):
    def __init__(self, footer_label: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_label = footer_label
        self.set_margins(left=20, top=20, right=20)
        self.set_auto_page_break(auto=True, margin=20)
        self.set_creation_date(FIXED_DATE)
        self.set_creator("OmniTraffick guidelines/generate.py")
        self.set_author("OmniTraffick sample data (fictional brand)")

    def footer(self) -> None:
        if not self.footer_label:
            return
        self.set_y(-14)
        self.set_font("Helvetica", "", 8.5)
        self.set_text_color(110, 110, 110)
        width = self.w - self.l_margin - self.r_margin
        self.cell(width / 2, 5, self.footer_label, align="L")
        self.cell(width / 2, 5, f"Page {self.page_no()}", align="R")
        self.set_text_color(0, 0, 0)


def new_fixture_pdf() -> FPDF:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_creator("OmniTraffick guidelines/generate.py")
    return pdf


def parse_pages(text: str) -> list[list[tuple[str, str]]]:
    """Split markdown into pages of blocks: (kind, text)."""
    pages: list[list[tuple[str, str]]] = [[]]
    para: list[str] = []

    def flush() -> None:
        if para:
            pages[-1].append(("p", " ".join(s.strip() for s in para)))
            para.clear()

    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if stripped == PAGE_MARKER:
            flush()
            pages.append([])
        elif not stripped:
            flush()
        elif stripped.startswith("### "):
            flush()
            pages[-1].append(("h3", stripped[4:].strip()))
        elif stripped.startswith("## "):
            flush()
            pages[-1].append(("h2", stripped[3:].strip()))
        elif stripped.startswith("# "):
            flush()
            pages[-1].append(("h1", stripped[2:].strip()))
        elif stripped.startswith("- "):
            flush()
            pages[-1].append(("li", stripped[2:].strip()))
        else:
            para.append(stripped)
    flush()
    return pages


def check_ascii(path: Path, text: str) -> None:
    for n, line in enumerate(text.splitlines(), 1):
        bad = [c for c in line if ord(c) > 126 or (ord(c) < 32 and c != "\t")]
        if bad:
            raise SystemExit(f"{path}:{n}: non-ASCII character(s) {bad!r}; keep sources ASCII")


def render_guideline(md_path: Path) -> tuple[Path, int]:
    text = md_path.read_text(encoding="utf-8")
    check_ascii(md_path, text)
    pages = parse_pages(text)
    title = next((t for page in pages for k, t in page if k == "h1"), md_path.stem)
    brand = title.replace(" Brand Guidelines", "")

    pdf = GuidelinePDF(footer_label=f"{brand} Brand Guidelines")
    pdf.set_title(title)
    pdf.set_subject(f"{brand} brand guidelines (fictional sample)")
    width = pdf.w - pdf.l_margin - pdf.r_margin

    for index, blocks in enumerate(pages, 1):
        pdf.add_page()
        prev = ""
        for kind, body in blocks:
            if prev == "li" and kind in ("p", "h3"):
                pdf.ln(1.6)
            prev = kind
            if kind == "h1":
                pdf.set_font("Helvetica", "B", 20)
                pdf.multi_cell(width, 9, body, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(2)
            elif kind == "h2":
                if pdf.get_y() > pdf.t_margin + 1:
                    pdf.ln(3)
                pdf.set_font("Helvetica", "B", 14)
                pdf.multi_cell(width, 7, body, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(1.5)
            elif kind == "h3":
                pdf.ln(1)
                pdf.set_font("Helvetica", "B", 11.5)
                pdf.multi_cell(width, 6, body, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(0.5)
            elif kind == "li":
                pdf.set_font("Helvetica", "", BODY_SIZE)
                pdf.set_x(pdf.l_margin + 3)
                pdf.cell(4, LINE_H, "-")
                pdf.multi_cell(width - 7, LINE_H, body, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(0.6)
            else:
                pdf.set_font("Helvetica", "", BODY_SIZE)
                pdf.multi_cell(width, LINE_H, body, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(2.2)
        if pdf.page != index:
            raise SystemExit(
                f"{md_path.name}: content of page {index} overflowed onto page {pdf.page}; "
                "shorten it or move a section after the next page marker"
            )

    out = OUT_DIR / f"{md_path.stem}.pdf"
    pdf.output(str(out))
    return out, pdf.page


# ---------------------------------------------------------------- fixtures


def fixture_two_pages() -> bytes:
    pdf = new_fixture_pdf()
    pdf.set_title("Two pages fixture")
    pdf.set_font("Helvetica", "", 14)
    for text in ("Alpha page one", "Bravo page two"):
        pdf.add_page()
        pdf.cell(0, 10, text)
    return bytes(pdf.output())


def fixture_empty() -> bytes:
    pdf = new_fixture_pdf()
    pdf.add_page()  # one blank page, no text operators at all
    return bytes(pdf.output())


def text_image_png() -> bytes:
    """A bitmap of text (what a scanner would produce): 1-bit PNG."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("L", (1200, 260), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=34)
    lines = [
        "Scanned brand guideline page (image only, no text layer).",
        "Never target users under 13 on any platform.",
        "Logo colour: Aurora Sunrise #FF7A1A.",
    ]
    for i, line in enumerate(lines):
        draw.text((40, 40 + i * 64), line, fill=0, font=font)
    img = img.convert("1")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def fixture_scanned() -> bytes:
    pdf = new_fixture_pdf()
    pdf.set_title("Scanned page fixture")
    pdf.add_page()
    pdf.image(io.BytesIO(text_image_png()), x=15, y=30, w=180)
    return bytes(pdf.output())


def fixture_encrypted() -> bytes:
    pdf = new_fixture_pdf()
    pdf.set_encryption(
        owner_password="owner-secret",
        user_password="user-secret",
        encryption_method=EncryptionMethod.RC4,
    )
    pdf.set_font("Helvetica", "", 14)
    pdf.add_page()
    pdf.cell(0, 10, "Confidential encrypted guideline text")
    return bytes(pdf.output())


def fixture_not_a_pdf() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 122, 26)).save(buf, format="PNG")
    return buf.getvalue()


def write_fixtures(truncate_source: Path) -> list[Path]:
    FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
    src = truncate_source.read_bytes()
    fixtures = {
        "two-pages.pdf": fixture_two_pages(),
        "empty.pdf": fixture_empty(),
        "scanned.pdf": fixture_scanned(),
        "encrypted.pdf": fixture_encrypted(),
        "not-a-pdf.pdf": fixture_not_a_pdf(),  # PNG bytes with a .pdf name
        "empty-file.pdf": b"",  # zero bytes
        "truncated.pdf": src[: int(len(src) * 0.4)],  # first 40% of a valid PDF
    }
    written = []
    for name, data in fixtures.items():
        path = FIXTURE_DIR / name
        path.write_bytes(data)
        written.append(path)
    return written


def main() -> None:
    if fpdf.__version__ != PINNED_FPDF2:
        print(
            f"warning: fpdf2 {fpdf.__version__} installed, {PINNED_FPDF2} pinned; "
            "output bytes may differ",
            file=sys.stderr,
        )
    sources = sorted(SRC_DIR.glob("*.md"))
    if not sources:
        sys.exit(f"no markdown sources in {SRC_DIR}")
    outputs = []
    for md in sources:
        out, pages = render_guideline(md)
        outputs.append(out)
        print(f"{out.relative_to(ROOT)}: {pages} pages, {out.stat().st_size} bytes")
    truncate_source = OUT_DIR / "aurora-toys.pdf"
    if not truncate_source.exists():
        truncate_source = outputs[0]
    for path in write_fixtures(truncate_source):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
