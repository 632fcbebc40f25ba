"""E-mail files (.eml, RFC 5322) as documents: the mail itself becomes a PDF (header block and
body, HTML reduced to an allowlist of text formatting), its attachments become documents of
their own (``documents.ingest``), linked "Anhang zu" the mail.

HTML is never rendered as HTML: a stdlib parser keeps the text, paragraph structure and
bold/italic/underline only. Scripts, styles, images, forms and links' behaviour are dropped
(a link's address is printed after its text), so nothing in a mail can reach out or run.
"""

from __future__ import annotations

import email
import email.policy
import functools
import io
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from xml.sax.saxutils import escape

from ablage.errors import ApplicationError

# Nested mails (a forwarded .eml inside an .eml) are taken one level deep only.
MAX_NESTING = 1
MAX_BODY_CHARACTERS = 200_000

_DROP_WITH_CONTENT = {
    "script",
    "style",
    "head",
    "title",
    "noscript",
    "template",
    "iframe",
    "object",
    "svg",
    "math",
    "select",
    "textarea",
}
_BLOCKS = {
    "p",
    "div",
    "br",
    "li",
    "tr",
    "table",
    "ul",
    "ol",
    "blockquote",
    "pre",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "header",
    "footer",
    "address",
    "dl",
    "dt",
    "dd",
}
_INLINE = {"b": "b", "strong": "b", "i": "i", "em": "i", "u": "u"}
_WHITESPACE = re.compile(r"\s+")
_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "source", "wbr"}


class _Sanitiser(HTMLParser):
    """HTML to paragraphs of reportlab markup: escaped text plus <b>, <i>, <u>, <br/> only."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] = []
        self._open: list[str] = []  # inline tags open now (reportlab names)
        self._dropping = 0
        self._links: list[str] = []

    def _break(self):
        text = "".join(self._current).strip()
        if text:
            self.paragraphs.append(text + "".join(f"</{tag}>" for tag in reversed(self._open)))
        self._current = ["".join(f"<{tag}>" for tag in self._open)]

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            # HTML may leave </head> out (HTML 5, 13.1.2.4): the body ends what was being dropped.
            self._dropping = 0
            return
        if tag in _DROP_WITH_CONTENT:
            if tag not in _VOID:
                self._dropping += 1
            return
        if self._dropping:
            return
        if tag in _BLOCKS:
            self._break()
            if tag == "li":
                self._current.append("• ")
        elif tag in _INLINE:
            self._open.append(_INLINE[tag])
            self._current.append(f"<{_INLINE[tag]}>")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self._links.append(href if href.startswith(("http://", "https://", "mailto:")) else "")
        elif tag in ("td", "th"):
            self._current.append("  ")

    def handle_endtag(self, tag):
        if tag in _DROP_WITH_CONTENT:
            self._dropping = max(0, self._dropping - 1)
            return
        if self._dropping:
            return
        if tag in _BLOCKS:
            self._break()
        elif tag in _INLINE and _INLINE[tag] in self._open:
            # Close down to the tag and reopen the ones above it: reportlab wants them nested.
            index = len(self._open) - 1 - self._open[::-1].index(_INLINE[tag])
            above = self._open[index + 1 :]
            self._current.append("".join(f"</{name}>" for name in reversed(self._open[index:])))
            self._open = self._open[:index] + above
            self._current.append("".join(f"<{name}>" for name in above))
        elif tag == "a" and self._links:
            href = self._links.pop()
            if href:
                self._current.append(escape(f" ({href})"))

    def handle_data(self, data):
        if not self._dropping:
            self._current.append(escape(_WHITESPACE.sub(" ", data)))

    def close(self):
        super().close()
        self._break()


def html_sanitise(html: str) -> list[str]:
    """Paragraphs of safe reportlab markup from untrusted HTML."""
    parser = _Sanitiser()
    parser.feed(html[:MAX_BODY_CHARACTERS])
    parser.close()
    return parser.paragraphs


def text_paragraphs(text: str) -> list[str]:
    blocks = text[:MAX_BODY_CHARACTERS].replace("\r\n", "\n").split("\n\n")
    return ["<br/>".join(escape(line) for line in block.strip("\n").split("\n")) for block in blocks if block.strip()]


@dataclass
class ParsedMail:
    sender: str
    sender_address: str
    to: str
    cc: str
    date: str
    subject: str
    message_id: str
    paragraphs: list[str]
    attachments: list[tuple[str, bytes]] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "from": self.sender[:500],
            "to": self.to[:500],
            "subject": self.subject[:500],
            "message_id": self.message_id[:500],
            "date": self.date[:100],
        }


def _header(message, name: str) -> str:
    try:
        return str(message.get(name, "") or "").strip()
    except (ValueError, IndexError):  # a malformed header the policy cannot parse
        return str(message.get_all(name, [""])[0]).strip()


def _part_text(part) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError):  # unknown or lying charset
        return (part.get_payload(decode=True) or b"").decode("utf-8", "replace")


def mail_parse(*, filename: str, data: bytes) -> ParsedMail:
    """Read an .eml; refuse (ApplicationError) what is not an e-mail."""
    from documents.mail.imap import attachments

    message = email.message_from_bytes(data, policy=email.policy.default)
    if not message.keys() or not (message["From"] or message["Date"]) or message.get_content_maintype() == "":
        raise ApplicationError(
            f"„{filename}“ ist keine E-Mail-Datei: die Kopfzeilen „From“ und „Date“ fehlen.",
            code="invalid_email",
        )
    body = message.get_body(preferencelist=("html", "plain"))
    if body is None:
        paragraphs = []
    elif body.get_content_subtype() == "html":
        paragraphs = html_sanitise(_part_text(body))
    else:
        paragraphs = text_paragraphs(_part_text(body))
    sender_header = message["From"]
    try:
        address = sender_header.addresses[0].addr_spec if sender_header and sender_header.addresses else ""
    except (AttributeError, IndexError):
        address = ""
    return ParsedMail(
        sender=_header(message, "From"),
        sender_address=address,
        to=_header(message, "To"),
        cc=_header(message, "Cc"),
        date=_header(message, "Date"),
        subject=_header(message, "Subject"),
        message_id=_header(message, "Message-ID"),
        paragraphs=paragraphs,
        attachments=[(name, payload) for name, payload in attachments(message) if payload],
    )


_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")


@functools.cache
def _fonts() -> tuple[str, str]:
    """DejaVu where installed (umlauts, "€" and „“ survive into the text layer), else base-14."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for directory in _FONT_DIRS:
        regular, bold = os.path.join(directory, "DejaVuSans.ttf"), os.path.join(directory, "DejaVuSans-Bold.ttf")
        if os.path.exists(regular) and os.path.exists(bold):
            pdfmetrics.registerFont(TTFont("Ablage-Mail", regular))
            pdfmetrics.registerFont(TTFont("Ablage-Mail-Bold", bold))
            pdfmetrics.registerFontFamily(
                "Ablage-Mail",
                normal="Ablage-Mail",
                bold="Ablage-Mail-Bold",
                italic="Ablage-Mail",
                boldItalic="Ablage-Mail-Bold",
            )
            return "Ablage-Mail", "Ablage-Mail-Bold"
    return "Helvetica", "Helvetica-Bold"


def mail_render_pdf(mail: ParsedMail) -> bytes:
    """The mail as a PDF with a text layer: header block, then the body."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    regular, bold = _fonts()
    body_style = ParagraphStyle("body", fontName=regular, fontSize=10, leading=13, spaceAfter=6)
    label_style = ParagraphStyle("label", fontName=bold, fontSize=9, leading=12)
    value_style = ParagraphStyle("value", fontName=regular, fontSize=9, leading=12)
    rows = [
        (label, value)
        for label, value in (
            ("Von", mail.sender),
            ("An", mail.to),
            ("Cc", mail.cc),
            ("Datum", mail.date),
            ("Betreff", mail.subject),
            ("Anhänge", ", ".join(name for name, _ in mail.attachments)),
        )
        if value
    ]
    story = [
        Table(
            [
                [Paragraph(escape(label), label_style), Paragraph(escape(value[:2000]), value_style)]
                for label, value in rows
            ],
            colWidths=[25 * mm, 145 * mm],
            hAlign="LEFT",
        ),
        Spacer(1, 8 * mm),
    ]
    story += [Paragraph(paragraph, body_style) for paragraph in mail.paragraphs] or [
        Paragraph("(Die E-Mail hat keinen Text.)", body_style)
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=mail.subject[:200] or "E-Mail",
        author=mail.sender[:200],
        creator="Ablage (E-Mail)",
    ).build(story)
    return buffer.getvalue()
