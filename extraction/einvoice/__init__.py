"""Structured e-invoices (ZUGFeRD 1.0, ZUGFeRD 2.x / Factur-X, XRechnung CII and UBL), read exactly.

Usage in the pipeline::

    source = find_einvoice(data)          # None: no e-invoice, go on with OCR
    if source is not None:
        result = parse_einvoice(source)   # StopProcessing(code="hostile_xml" | "invalid_einvoice")
"""

from extraction.einvoice.detect import find_einvoice
from extraction.einvoice.parse import HOSTILE_XML, INVALID_EINVOICE, MAX_XML_BYTES, parse_einvoice
from extraction.einvoice.syntax import EInvoiceSource

__all__ = ["HOSTILE_XML", "INVALID_EINVOICE", "MAX_XML_BYTES", "EInvoiceSource", "find_einvoice", "parse_einvoice"]
