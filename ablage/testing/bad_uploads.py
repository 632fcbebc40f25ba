"""More crafted uploads the ingestion must refuse (ZIP archives, images, XML, page counts, viruses).

Complements :mod:`ablage.testing.bad_files`; every factory returns bytes and runs in milliseconds.
"""

import io
import struct
import zipfile

from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from ablage.testing.bad_files import valid_pdf

# The industry's harmless test "virus" (www.eicar.org): every scanner reports it.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

XRECHNUNG_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"


def png(side: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(side: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), "white").save(buffer, format="JPEG")
    return buffer.getvalue()


def truncated_png() -> bytes:
    return png(64)[:40]


def truncated_jpeg() -> bytes:
    return b"\xff\xd8\xff\xe0" + b"\x00" * 30


def tiff_header_only() -> bytes:
    return b"II*\x00" + struct.pack("<I", 0xFFFFFF00)


def tiff_with_frames(count: int) -> bytes:
    frames = [Image.new("L", (4, 4), 255) for _ in range(count)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def pdf_with_pages(count: int) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    for _ in range(count):
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def pdf_claiming_objects(count: int) -> bytes:
    """A valid PDF whose trailer claims ``count`` objects (a cheap stand-in for an object bomb)."""
    data = valid_pdf()
    head, marker, tail = data.rpartition(b"/Size ")
    digits = len(tail) - len(tail.lstrip(b"0123456789"))
    return head + marker + str(count).encode() + tail[digits:]


def xml_with_doctype() -> bytes:
    """An e-invoice root behind an external entity (XXE)."""
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b'<Invoice xmlns="' + XRECHNUNG_NS.encode() + b'"><ID>&xxe;</ID></Invoice>'
    )


def xml_billion_laughs() -> bytes:
    entities = "".join(f'<!ENTITY l{n} "&l{n - 1};&l{n - 1};&l{n - 1};&l{n - 1};">' for n in range(1, 10))
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE Invoice [<!ENTITY l0 "ha">{entities}]>\n'
        f'<Invoice xmlns="{XRECHNUNG_NS}"><ID>&l9;</ID></Invoice>'
    ).encode()


def xml_not_an_invoice() -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n<Bestellung><Nummer>17</Nummer></Bestellung>'


def _zip(entries: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    return _zip(entries)


def zip_with_path_escape() -> bytes:
    return _zip({"../../etc/rechnung.pdf": valid_pdf()})


def zip_bomb() -> bytes:
    """One entry of 20 MB of zeros, compressed about a thousand times."""
    return _zip({"rechnung.pdf": b"\x00" * (20 * 1024 * 1024)})


def zip_encrypted() -> bytes:
    """An entry flagged as encrypted (general purpose bit 0), as a password-protected ZIP has it."""
    data = bytearray(_zip({"rechnung.pdf": valid_pdf()}, compression=zipfile.ZIP_STORED))
    # zipfile cannot write encrypted entries; set the flag in the local header (offset 6) and
    # the central directory entry (offset 8) the way an encrypting tool would.
    data[6] |= 0x1
    central = data.rindex(b"PK\x01\x02")
    data[central + 8] |= 0x1
    return bytes(data)


def zip_corrupt() -> bytes:
    return b"PK\x03\x04" + bytes(range(200))


def eicar_pdf() -> bytes:
    """A valid PDF that carries the EICAR test string (clamd reports it)."""
    return valid_pdf() + b"\n%" + EICAR + b"\n"
