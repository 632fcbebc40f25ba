"""Personal and business identifiers masked before text reaches logs or error records.

IBANs, VAT IDs (USt-IdNr), German tax numbers (Steuernummer), e-mail addresses and phone
numbers are replaced by their kind and the last characters; OCR text is never logged whole
(``logging`` extra fields named like text carry only their length).
"""

import re

_PATTERNS = [
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")),
    ("vat_id", re.compile(r"\b(?:DE|AT)[ ]?U?\d{8,9}\b")),
    ("tax_number", re.compile(r"\b\d{2,3}/\d{3,4}/\d{4,5}\b")),
    ("phone", re.compile(r"(?<![\w/])(?:\+49|0049|0)[1-9][\d /-]{6,}\d\b")),
]


def _mask(kind: str, value: str) -> str:
    tail = re.sub(r"\W", "", value)[-3:] if kind != "email" else value.rsplit("@", 1)[-1]
    return f"[{kind}:…{tail}]"


def mask_pii(text: str) -> str:
    if not text:
        return text
    for kind, pattern in _PATTERNS:
        text = pattern.sub(lambda match, kind=kind: _mask(kind, match.group(0)), text)
    return text
