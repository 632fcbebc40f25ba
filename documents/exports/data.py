"""Flat rows of document data: the common input of every export format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone


@dataclass(frozen=True)
class Column:
    key: str
    title: str  # German heading (CSV, XLSX, GDPdU)
    kind: str  # "text" | "amount" | "date" | "datetime" | "number"


COLUMNS = [
    Column("id", "Dokument-ID", "text"),
    Column("title", "Titel", "text"),
    Column("original_filename", "Dateiname", "text"),
    Column("document_type", "Dokumenttyp", "text"),
    Column("status", "Status", "text"),
    Column("supplier_name", "Lieferant", "text"),
    Column("supplier_number", "Lieferantennummer", "text"),
    Column("supplier_vat_id", "USt-IdNr. Lieferant", "text"),
    Column("invoice_number", "Rechnungsnummer", "text"),
    Column("invoice_date", "Rechnungsdatum", "date"),
    Column("due_date", "Fällig am", "date"),
    Column("net_amount", "Netto", "amount"),
    Column("vat_amount", "USt", "amount"),
    Column("total_amount", "Brutto", "amount"),
    Column("currency", "Währung", "text"),
    Column("iban", "IBAN", "text"),
    Column("confidence", "Konfidenz", "number"),
    Column("sha256", "SHA-256 Original", "text"),
    Column("received_at", "Eingegangen", "datetime"),
    Column("reviewed_at", "Geprüft", "datetime"),
]

LINE_COLUMNS = [
    Column("document_id", "Dokument-ID", "text"),
    Column("position", "Position", "number"),
    Column("description", "Beschreibung", "text"),
    Column("quantity", "Menge", "number"),
    Column("unit", "Einheit", "text"),
    Column("unit_price", "Einzelpreis", "amount"),
    Column("vat_rate", "USt-Satz", "number"),
    Column("total", "Gesamt", "amount"),
]


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _date(value) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def document_rows(documents) -> list[dict]:
    """One dict per document with typed values (Decimal, date, datetime, str, None)."""
    rows = []
    for document in documents.select_related("supplier").prefetch_related("fields"):
        fields = {field.name: field.normalized_value or field.value for field in document.fields.all()}
        supplier = document.supplier
        rows.append(
            {
                "id": str(document.pk),
                "title": document.title,
                "original_filename": document.original_filename,
                "document_type": document.document_type,
                "status": document.status,
                "supplier_name": supplier.name if supplier else fields.get("supplier_name", ""),
                "supplier_number": (supplier.supplier_number or "") if supplier else "",
                "supplier_vat_id": (supplier.vat_id if supplier else "") or fields.get("supplier_vat_id", ""),
                "invoice_number": fields.get("invoice_number") or document.document_number,
                "invoice_date": _date(fields.get("invoice_date")) or document.document_date,
                "due_date": _date(fields.get("due_date")),
                "net_amount": _decimal(fields.get("net_amount")),
                "vat_amount": _decimal(fields.get("vat_amount")),
                "total_amount": document.total_amount
                if document.total_amount is not None
                else _decimal(fields.get("total_amount")),
                "currency": document.currency or fields.get("currency", ""),
                "iban": fields.get("iban", ""),
                "confidence": document.overall_confidence,
                "sha256": document.sha256,
                "received_at": timezone.localtime(document.created_at),
                "reviewed_at": timezone.localtime(document.reviewed_at) if document.reviewed_at else None,
                "_line_items": document.line_items or [],
                "_document": document,
            }
        )
    return rows


def line_item_rows(rows: list[dict]) -> list[dict]:
    lines = []
    for row in rows:
        for number, item in enumerate(row["_line_items"], start=1):
            lines.append(
                {
                    "document_id": row["id"],
                    "position": item.get("position") or number,
                    "description": item.get("description", ""),
                    "quantity": _decimal(item.get("quantity")),
                    "unit": item.get("unit", ""),
                    "unit_price": _decimal(item.get("unit_price")),
                    "vat_rate": _decimal(item.get("vat_rate")),
                    "total": _decimal(item.get("total") or item.get("line_total")),
                }
            )
    return lines


def plain(value):
    """JSON-ready form: Decimal as string (exact), dates ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def public(row: dict) -> dict:
    return {key: value for key, value in row.items() if not key.startswith("_")}
