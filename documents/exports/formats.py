"""Writers: rows -> bytes, one function per format. German CSV opens in Excel as it is
(semicolon, comma decimals, UTF-8 with BOM); JSON and Parquet keep exact decimals and are
the "dual output" of scheduled exports (same rows, both formats)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal

from django.core.files.storage import default_storage

from documents.exports.data import COLUMNS, LINE_COLUMNS, Column, line_item_rows, plain, public

FORMATS = {
    "json": ("application/json", "json"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xml": ("application/xml", "xml"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
    "zip": ("application/zip", "zip"),
}


def german(value, kind: str) -> str:
    """A value as a German spreadsheet shows it: 1234,56 · 31.12.2026 · 31.12.2026 14:05."""
    if value is None or value == "":
        return ""
    if isinstance(value, Decimal) or kind == "amount":
        return f"{Decimal(value):.2f}".replace(".", ",")
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".").replace(".", ",")
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    return str(value)


def _csv(rows: list[dict], columns: list[Column], *, bom: bool = True) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([column.title for column in columns])
    for row in rows:
        writer.writerow([german(row.get(column.key), column.kind) for column in columns])
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def to_csv(rows: list[dict]) -> bytes:
    return _csv(rows, COLUMNS)


def to_json(rows: list[dict]) -> bytes:
    payload = [
        {**{key: plain(value) for key, value in public(row).items()}, "line_items": row["_line_items"]} for row in rows
    ]
    return json.dumps({"documents": payload}, ensure_ascii=False, indent=2).encode("utf-8")


def to_xml(rows: list[dict]) -> bytes:
    from lxml import etree

    root = etree.Element("documents", version="1")
    for row in rows:
        element = etree.SubElement(root, "document", id=row["id"])
        for column in COLUMNS[1:]:
            value = row.get(column.key)
            if value is not None and value != "":
                etree.SubElement(element, column.key).text = str(plain(value))
        items = etree.SubElement(element, "line_items")
        for line in line_item_rows([row]):
            item = etree.SubElement(items, "item")
            for column in LINE_COLUMNS[1:]:
                if line.get(column.key) not in (None, ""):
                    etree.SubElement(item, column.key).text = str(plain(line[column.key]))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def to_xlsx(rows: list[dict]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for title, columns, data in (
        ("Belege", COLUMNS, rows),
        ("Positionen", LINE_COLUMNS, line_item_rows(rows)),
    ):
        sheet = workbook.create_sheet(title)
        sheet.append([column.title for column in columns])
        for row in data:
            values = []
            for column in columns:
                value = row.get(column.key)
                if isinstance(value, datetime):
                    value = value.replace(tzinfo=None)  # Excel has no time zones; local time is what people read
                values.append(value)
            sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_parquet(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"text": pa.string(), "amount": pa.decimal128(14, 2), "date": pa.date32(), "number": pa.float64()}
    fields, arrays = [], []
    for column in COLUMNS:
        kind = types.get(column.kind, pa.timestamp("us", tz="Europe/Berlin"))
        values = [row.get(column.key) for row in rows]
        if column.kind == "amount":
            values = [None if value is None else Decimal(value).quantize(Decimal("0.01")) for value in values]
        fields.append(pa.field(column.key, kind))
        arrays.append(pa.array(values, type=kind))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def original_name(document) -> str:
    suffix = document.original_filename.rsplit(".", 1)[-1].lower() if "." in document.original_filename else "bin"
    return f"{document.pk}.{suffix}"


def to_zip(rows: list[dict]) -> bytes:
    """Originals (as stored, named by document id) plus the data as CSV and JSON."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("belege.csv", to_csv(rows))
        archive.writestr("positionen.csv", _csv(line_item_rows(rows), LINE_COLUMNS))
        archive.writestr("belege.json", to_json(rows))
        for row in rows:
            document = row["_document"]
            with default_storage.open(document.storage_key, "rb") as original:
                archive.writestr(f"originale/{original_name(document)}", original.read())
            if document.einvoice_key and document.einvoice_key != document.storage_key:
                with default_storage.open(document.einvoice_key, "rb") as xml:
                    archive.writestr(f"e-rechnungen/{document.pk}.xml", xml.read())
    return buffer.getvalue()


WRITERS = {
    "json": to_json,
    "csv": to_csv,
    "xml": to_xml,
    "xlsx": to_xlsx,
    "parquet": to_parquet,
    "zip": to_zip,
}
