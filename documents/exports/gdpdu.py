"""Data access for tax auditors (GoBD Z3, "Datenträgerüberlassung"): a ZIP with the originals,
the extracted data as CSV tables, the audit log of the period, and an ``index.xml`` that
describes the tables in the GDPdU description standard (``gdpdu-01-09-2004.dtd``), so that
audit software (IDEA and others) reads them without further explanation."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

from django.core.files.storage import default_storage

from documents.exports.data import COLUMNS, LINE_COLUMNS, Column, document_rows, line_item_rows
from documents.exports.formats import german, original_name

AUDIT_COLUMNS = [
    Column("sequence", "Laufende Nummer", "number"),
    Column("created_at", "Zeitpunkt", "datetime"),
    Column("actor", "Benutzer", "text"),
    Column("action", "Aktion", "text"),
    Column("object_type", "Objektart", "text"),
    Column("object_id", "Objekt-ID", "text"),
    Column("message", "Meldung", "text"),
    Column("entry_hash", "Prüfsumme", "text"),
]


def _table(rows: list[dict], columns: list[Column]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    for row in rows:
        writer.writerow([german(row.get(column.key), column.kind) for column in columns])
    return buffer.getvalue().encode("utf-8")


def _column_xml(etree, parent, column: Column, *, primary: bool = False):
    element = etree.SubElement(parent, "VariablePrimaryKey" if primary else "VariableColumn")
    etree.SubElement(element, "Name").text = column.title
    if column.kind == "amount":
        numeric = etree.SubElement(element, "Numeric")
        etree.SubElement(numeric, "Accuracy").text = "2"
    elif column.kind == "number":
        numeric = etree.SubElement(element, "Numeric")
        etree.SubElement(numeric, "Accuracy").text = "4"
    elif column.kind == "date":
        etree.SubElement(etree.SubElement(element, "Date"), "Format").text = "DD.MM.YYYY"
    else:
        # Timestamps are text for GDPdU (its Date type has no time of day).
        etree.SubElement(element, "AlphaNumeric")


def index_xml(tables: list[tuple[str, str, str, list[Column]]], *, period: tuple[date, date], supplier: str) -> bytes:
    from lxml import etree

    root = etree.Element("DataSet")
    etree.SubElement(root, "Version").text = "1.0"
    data_supplier = etree.SubElement(root, "DataSupplier")
    etree.SubElement(data_supplier, "Name").text = supplier
    etree.SubElement(data_supplier, "Location").text = "Ablage"
    etree.SubElement(data_supplier, "Comment").text = "Export für die Außenprüfung (GoBD Z3)"
    media = etree.SubElement(root, "Media")
    etree.SubElement(media, "Name").text = "Datenträger 1"
    for url, name, description, columns in tables:
        table = etree.SubElement(media, "Table")
        etree.SubElement(table, "URL").text = url
        etree.SubElement(table, "Name").text = name
        etree.SubElement(table, "Description").text = description
        validity = etree.SubElement(table, "Validity")
        valid_range = etree.SubElement(validity, "Range")
        etree.SubElement(valid_range, "From").text = period[0].strftime("%d.%m.%Y")
        etree.SubElement(valid_range, "To").text = period[1].strftime("%d.%m.%Y")
        etree.SubElement(validity, "Format").text = "DD.MM.YYYY"
        etree.SubElement(table, "UTF8")
        etree.SubElement(table, "DecimalSymbol").text = ","
        etree.SubElement(table, "DigitGroupingSymbol").text = "."
        variable = etree.SubElement(table, "VariableLength")
        etree.SubElement(variable, "ColumnDelimiter").text = ";"
        etree.SubElement(variable, "RecordDelimiter").text = "&#13;&#10;"
        etree.SubElement(variable, "TextEncapsulator").text = '"'
        for position, column in enumerate(columns):
            _column_xml(etree, variable, column, primary=position == 0 and url != "positionen.csv")
    body = etree.tostring(root, encoding="UTF-8", pretty_print=True).decode("utf-8")
    # The RecordDelimiter is written as the standard shows it (character references, not raw CR LF).
    body = body.replace("&amp;#13;&amp;#10;", "&#13;&#10;")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE DataSet SYSTEM "gdpdu-01-09-2004.dtd">\n' + body).encode(
        "utf-8"
    )


def audit_package(documents, audit_entries, *, period: tuple[date, date], company: str) -> bytes:
    rows = document_rows(documents)
    audit_rows = [
        {
            "sequence": entry.sequence,
            "created_at": entry.created_at,
            "actor": entry.actor.email if entry.actor_id else "System",
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "message": entry.message,
            "entry_hash": entry.entry_hash,
        }
        for entry in audit_entries.select_related("actor").order_by("sequence")
    ]
    tables = [
        ("belege.csv", "Belege", "Ein Datensatz je Beleg mit den erfassten Daten", COLUMNS),
        ("positionen.csv", "Belegpositionen", "Rechnungspositionen je Beleg", LINE_COLUMNS),
        ("protokoll.csv", "Änderungsprotokoll", "Audit-Protokoll des Zeitraums (Hash-Kette)", AUDIT_COLUMNS),
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.xml", index_xml(tables, period=period, supplier=company))
        archive.writestr("belege.csv", _table(rows, COLUMNS))
        archive.writestr("positionen.csv", _table(line_item_rows(rows), LINE_COLUMNS))
        archive.writestr("protokoll.csv", _table(audit_rows, AUDIT_COLUMNS))
        for row in rows:
            document = row["_document"]
            with default_storage.open(document.storage_key, "rb") as original:
                archive.writestr(f"belege/{original_name(document)}", original.read())
            if document.einvoice_key and document.einvoice_key != document.storage_key:
                with default_storage.open(document.einvoice_key, "rb") as xml:
                    archive.writestr(f"belege/{document.pk}.xml", xml.read())
    return buffer.getvalue()
