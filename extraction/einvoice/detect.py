"""Find the e-invoice in an upload: the XML itself, or the XML a PDF/A-3 carries.

A hybrid invoice (ZUGFeRD, Factur-X) is a PDF with the invoice XML attached; the attachment
is listed in the catalog's ``/AF`` array (associated files, PDF/A-3) and, in every file we
have seen, also in the ``/EmbeddedFiles`` name tree. We look in both, prefer the names the
standards prescribe, and otherwise take any attached ``.xml`` whose root element is an
e-invoice root. The PDF's own pages are not looked at here.

``find_einvoice`` reports *that* there is an e-invoice and what it claims to be; it does not
judge it. A hostile or broken XML still comes back as a source, and ``parse_einvoice`` refuses
it with a specific error, so the caller decides per container what a refusal means.
"""

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject

from extraction.einvoice.parse import read_xml
from extraction.einvoice.syntax import (
    EINVOICE_FILENAMES,
    NAMESPACES,
    PROFILE_PATHS,
    EInvoiceSource,
    flavour_for,
    syntax_of,
)
from ocr.errors import StopProcessing

logger = logging.getLogger(__name__)

CONTAINER_PDF = "pdf"
CONTAINER_XML = "xml"

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# pypdf raises these on damaged files besides its own errors; a PDF we cannot open for its
# attachments is simply one without an e-invoice here, and the OCR path judges the file.
# A real tree is two or three levels deep; a cycle of /Kids must not recurse forever.
_MAX_NAME_TREE_DEPTH = 32
_PDF_ERRORS = (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError)


def find_einvoice(data: bytes) -> EInvoiceSource | None:
    """The e-invoice in ``data`` (a PDF or bare XML), or None when there is none."""
    if b"%PDF-" in data[:1024]:
        return _from_pdf(data)
    if _looks_like_xml(data):
        data = _without_leading_blanks(data)
        syntax = syntax_of(data)
        return _source(data, syntax, CONTAINER_XML, "") if syntax else None
    return None


def _without_leading_blanks(data: bytes) -> bytes:
    # Blank lines before "<?xml" are not well-formed (XML 1.0, 2.8), yet exports from some
    # ERP systems have them; they carry nothing, so they are dropped rather than rejected.
    stripped = data.lstrip(b" \t\r\n")
    return stripped if stripped.startswith(b"<?xml") else data


def _looks_like_xml(data: bytes) -> bool:
    head = data[:4096]
    for bom in _BOMS:
        if head.startswith(bom):
            return True
    return head.lstrip().startswith(b"<")


def _source(xml: bytes, syntax: str, container: str, filename: str) -> EInvoiceSource:
    profile = ""
    try:
        root = read_xml(xml)
    except StopProcessing:
        # parse_einvoice raises the precise refusal; here we only say what the file claims to be.
        root = None
    if root is not None and syntax:
        profile = (root.findtext(PROFILE_PATHS[syntax], "", NAMESPACES[syntax]) or "").strip()
    return EInvoiceSource(
        xml=xml,
        syntax=syntax,
        profile=profile,
        flavour=flavour_for(syntax, profile, filename) if syntax else "",
        container=container,
        filename=filename,
    )


def _from_pdf(data: bytes) -> EInvoiceSource | None:
    attachments = _xml_attachments(data)
    by_name = {name.lower(): (name, content) for name, content in reversed(attachments)}
    for wanted in EINVOICE_FILENAMES:
        if wanted in by_name:
            name, content = by_name[wanted]
            content = _without_leading_blanks(content)
            # A prescribed name is a declaration: even unreadable, this is the invoice data.
            return _source(content, syntax_of(content) or "", CONTAINER_PDF, name)
    for name, content in attachments:
        content = _without_leading_blanks(content)
        syntax = syntax_of(content)
        if syntax:
            return _source(content, syntax, CONTAINER_PDF, name)
    return None


def _xml_attachments(data: bytes) -> list[tuple[str, bytes]]:
    """(file name, content) of every attached file whose name ends in ".xml", ``/AF`` entries first."""
    found: list[tuple[str, bytes]] = []
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return []
        catalog = reader.root_object
        specs = []
        associated = catalog.get("/AF")
        associated = associated.get_object() if associated is not None else None
        if isinstance(associated, ArrayObject):
            specs += [entry.get_object() for entry in associated]
        names = catalog.get("/Names")
        names = names.get_object() if names is not None else None
        if isinstance(names, DictionaryObject) and "/EmbeddedFiles" in names:
            specs += _name_tree_values(names["/EmbeddedFiles"].get_object())
        seen = set()
        for spec in specs:
            if not isinstance(spec, DictionaryObject):
                continue
            key = _object_key(spec)
            if key in seen:
                continue
            seen.add(key)
            name = _file_name(spec)
            if not name.lower().endswith(".xml"):
                continue
            content = _content(spec)
            if content is not None:
                found.append((name, content))
    except _PDF_ERRORS as exc:
        logger.info("PDF-Anhänge nicht lesbar: %s", exc)
        return found
    return found


def _name_tree_values(node: DictionaryObject, depth: int = 0) -> list:
    """Values of a PDF name tree (ISO 32000-1, 7.9.6): leaves hold /Names [key value ...], inner nodes /Kids."""
    if depth > _MAX_NAME_TREE_DEPTH or not isinstance(node, DictionaryObject):
        return []
    values = []
    pairs = node.get("/Names")
    pairs = pairs.get_object() if pairs is not None else None
    if isinstance(pairs, ArrayObject):
        values += [pairs[index].get_object() for index in range(1, len(pairs), 2)]
    kids = node.get("/Kids")
    kids = kids.get_object() if kids is not None else None
    if isinstance(kids, ArrayObject):
        for kid in kids:
            values += _name_tree_values(kid.get_object(), depth + 1)
    return values


def _object_key(spec: DictionaryObject):
    reference = getattr(spec, "indirect_reference", None)
    return (reference.idnum, reference.generation) if reference is not None else id(spec)


def _file_name(spec: DictionaryObject) -> str:
    # /UF is the Unicode name (PDF 1.7), /F the legacy one; writers usually set both alike.
    for key in ("/UF", "/F"):
        value = spec.get(key)
        if value is not None:
            return str(value.get_object())
    return ""


def _content(spec: DictionaryObject) -> bytes | None:
    embedded = spec.get("/EF")
    embedded = embedded.get_object() if embedded is not None else None
    if not isinstance(embedded, DictionaryObject):
        return None
    for key in ("/UF", "/F"):
        stream = embedded.get(key)
        if stream is not None:
            return stream.get_object().get_data()
    return None
