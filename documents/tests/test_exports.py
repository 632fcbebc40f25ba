import csv
import hashlib
import io
import json
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from documents.exports import datev
from documents.exports.data import COLUMNS
from documents.exports.services import atomic_save, export_create, scheduled_export
from documents.models import Document, ExportRun, ExtractedField
from monitoring.models import AuditLog
from suppliers.models import Supplier
from system.models import SystemConfig

pytestmark = [pytest.mark.django_db]


def make_invoice(
    owner, number, *, total="119.00", net="100.00", vat="19.00", day=date(2026, 3, 14), items=None, **extra
):
    key = default_storage.save(f"originals/test/{number}.pdf", ContentFile(b"%PDF-1.4 " + number.encode()))
    document = Document.objects.create(
        owner=owner,
        title=f"Rechnung {number}",
        original_filename=f"{number}.pdf",
        mime_type="application/pdf",
        file_size=10,
        sha256=hashlib.sha256(b"%PDF-1.4 " + number.encode()).hexdigest(),
        storage_key=key,
        status=Document.Status.APPROVED,
        document_type=extra.pop("document_type", "invoice"),
        document_date=day,
        total_amount=Decimal(total),
        currency="EUR",
        line_items=items or [],
        **extra,
    )
    for name, value in {
        "invoice_number": number,
        "invoice_date": day.isoformat(),
        "net_amount": net,
        "vat_amount": vat,
        "total_amount": total,
        "iban": "DE89370400440532013000",
        "due_date": "2026-03-28",
    }.items():
        ExtractedField.objects.create(document=document, name=name, value=value, normalized_value=value)
    return document


@pytest.fixture
def invoices(owner):
    supplier = Supplier.objects.create(name="Bürobedarf Müller & Söhne GmbH", datev_creditor_account="70010")
    return [
        make_invoice(owner, "RE-2026/001", supplier=supplier),
        make_invoice(
            owner,
            "RE_2026.002",
            total="226.00",
            net="200.00",
            vat="26.00",
            items=[
                {
                    "position": "1",
                    "description": "Papier",
                    "quantity": "2",
                    "unit_price": "50.00",
                    "vat_rate": "19",
                    "line_total": "100.00",
                },
                {
                    "position": "2",
                    "description": "Fachbuch",
                    "quantity": "1",
                    "unit_price": "100.00",
                    "vat_rate": "7",
                    "line_total": "100.00",
                },
            ],
        ),
        make_invoice(
            owner, "GS-7", total="-59.50", net="-50.00", vat="-9.50", document_type="credit_note", supplier=supplier
        ),
    ]


@pytest.fixture
def datev_configured():
    SystemConfig.objects.filter(key="datev.consultant_number").update(value=29098)
    SystemConfig.objects.filter(key="datev.client_number").update(value=55003)
    from system.selectors import config_cache_invalidate

    config_cache_invalidate()


def _export(owner, invoices, fmt):
    return export_create(
        user=owner, documents=Document.objects.filter(pk__in=[d.pk for d in invoices]), fmt=fmt, selection={}
    )


def test_it_writes_german_csv_that_reads_back(owner, invoices):
    export = _export(owner, invoices, "csv")
    assert export.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [column.title for column in COLUMNS]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["Brutto"] == "119,00" and first["Rechnungsdatum"] == "14.03.2026"
    assert first["Lieferant"] == "Bürobedarf Müller & Söhne GmbH"


def test_it_round_trips_json_xml_xlsx_and_parquet(owner, invoices):
    import pyarrow.parquet as pq
    from lxml import etree
    from openpyxl import load_workbook

    data = json.loads(_export(owner, invoices, "json").data)
    assert [item["total_amount"] for item in data["documents"]] == ["119.00", "226.00", "-59.50"]
    root = etree.fromstring(_export(owner, invoices, "xml").data)
    assert root.xpath("count(/documents/document)") == 3
    assert root.xpath("string(/documents/document[2]/line_items/item[2]/vat_rate)") == "7"
    workbook = load_workbook(io.BytesIO(_export(owner, invoices, "xlsx").data))
    assert workbook["Belege"]["N2"].value == Decimal("119.00") or workbook["Belege"]["N2"].value == 119
    assert workbook["Positionen"].max_row == 3
    table = pq.read_table(io.BytesIO(_export(owner, invoices, "parquet").data))
    assert table.column("total_amount").to_pylist() == [Decimal("119.00"), Decimal("226.00"), Decimal("-59.50")]
    assert table.column("invoice_date").to_pylist()[0] == date(2026, 3, 14)


def test_it_zips_originals_with_the_data_and_records_the_export(owner, invoices):
    export = _export(owner, invoices, "zip")
    archive = zipfile.ZipFile(io.BytesIO(export.data))
    assert archive.read(f"originale/{invoices[0].pk}.pdf") == b"%PDF-1.4 RE-2026/001"
    assert {"belege.csv", "positionen.csv", "belege.json"} <= set(archive.namelist())
    run = ExportRun.objects.get()
    assert run.sha256 == hashlib.sha256(export.data).hexdigest() and run.document_count == 3
    assert AuditLog.objects.filter(action="export.created", object_id=str(run.pk)).exists()


def test_it_refuses_datev_until_the_office_numbers_are_set(owner, invoices):
    from ablage.errors import ApplicationError

    with pytest.raises(ApplicationError, match="Beraternummer"):
        _export(owner, invoices, "datev")


def test_it_writes_a_datev_buchungsstapel_by_the_format_rules(owner, invoices, datev_configured):
    archive = zipfile.ZipFile(io.BytesIO(_export(owner, invoices, "datev").data))
    [csv_name] = [name for name in archive.namelist() if name.startswith("EXTF_")]
    data = archive.read(csv_name)
    data.decode("cp1252")  # DATEV reads Windows-1252
    assert b"\r\n" in data and "Müller".encode("cp1252") in data
    header, columns, lines = datev.parse_buchungsstapel(data)
    assert header[:5] == ["EXTF", "700", "21", "Buchungsstapel", "13"] and len(header) == datev.HEADER_FIELD_COUNT
    assert header[10:14] == ["29098", "55003", "20260101", "4"]
    assert columns == datev.COLUMNS and len(columns) == 125
    assert all(len(line) == 125 and datev.datev_line_problems(line) == [] for line in lines)
    column = {name: position for position, name in enumerate(columns)}
    by_number = {}
    for line in lines:
        by_number.setdefault(line[column["Belegfeld 1"]], []).append(line)
    invoice = by_number["RE-2026/001"][0]
    assert (
        invoice[column["Umsatz (ohne Soll/Haben-Kz)"]] == "119,00" and invoice[column["Soll/Haben-Kennzeichen"]] == "H"
    )
    assert invoice[column["Konto"]] == "70010" and invoice[column["Gegenkonto (ohne BU-Schlüssel)"]] == "4980"
    assert invoice[column["Belegdatum"]] == "1403" and invoice[column["BU-Schlüssel"]] == "9"  # 19 % Vorsteuer
    assert invoice[column["Beleglink"]] == f'BEDI "{invoices[0].pk}"'
    # Two VAT rates: one booking line per rate, gross, adding up to the printed total.
    split = {
        line[column["BU-Schlüssel"]]: line[column["Umsatz (ohne Soll/Haben-Kz)"]] for line in by_number["RE2026002"]
    }
    assert split == {"9": "119,00", "8": "107,00"}
    credit = by_number["GS-7"][0]
    assert credit[column["Soll/Haben-Kennzeichen"]] == "S" and credit[column["Umsatz (ohne Soll/Haben-Kz)"]] == "59,50"
    # The images with document.xml, linked by the same GUIDs.
    from lxml import etree

    document_xml = etree.fromstring(archive.read("document.xml"))
    namespace = {"d": "http://xml.datev.de/bedi/tps/document/v06.0"}
    guids = document_xml.xpath("//d:document/@guid", namespaces=namespace)
    assert set(guids) == {str(document.pk) for document in invoices}
    for name in document_xml.xpath("//d:extension/@name", namespaces=namespace):
        assert name in archive.namelist()


def test_it_checks_each_datev_line(invoices):
    good = [""] * 125
    good[:11] = ["12,00", "H", "EUR", "", "", "", "70000", "4980", "9", "3112", "RE-1"]
    assert datev.datev_line_problems(good) == []
    bad = list(good)
    bad[0], bad[1], bad[9], bad[10] = "-12,0", "X", "3213", "RE.1"
    problems = " ".join(datev.datev_line_problems(bad))
    for expected in ("Umsatz", "Soll/Haben", "Belegdatum", "Belegfeld 1"):
        assert expected in problems
    assert datev.datev_line_problems(good[:-1]) == ["124 Felder statt 125"]


def test_it_refuses_a_datev_stack_over_two_fiscal_years(owner, datev_configured):
    from ablage.errors import ApplicationError

    documents = [make_invoice(owner, "A-1", day=date(2025, 12, 30)), make_invoice(owner, "A-2", day=date(2026, 1, 2))]
    with pytest.raises(ApplicationError, match="Wirtschaftsjahr"):
        _export(owner, documents, "datev")


def test_it_exports_only_what_the_caller_may_see(client, owner, outsider, invoices):
    client.force_login(outsider)
    response = client.post(
        reverse("api-v1:export"),
        {"format": "csv", "document_ids": [str(invoices[0].pk)]},
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "export_empty"
    client.force_login(owner)
    response = client.post(reverse("api-v1:export"), {"format": "csv"}, content_type="application/json")
    assert response.status_code == 200 and response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Export-SHA256"] == hashlib.sha256(response.content).hexdigest()


def test_it_gives_the_auditor_package_with_a_gdpdu_index(client, owner, invoices, django_user_model):
    from lxml import etree

    client.force_login(owner)
    body = {"date_from": "2026-01-01", "date_to": "2026-12-31", "company": "Muster GmbH"}
    assert client.post(reverse("api-v1:export-audit"), body, content_type="application/json").status_code == 403
    auditor = django_user_model.objects.create_superuser("pruefer@example.com", "x")
    client.force_login(auditor)
    response = client.post(reverse("api-v1:export-audit"), body, content_type="application/json")
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    index = archive.read("index.xml")
    assert b'<!DOCTYPE DataSet SYSTEM "gdpdu-01-09-2004.dtd">' in index
    root = etree.fromstring(index, etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False))
    tables = root.xpath("/DataSet/Media/Table/URL/text()")
    assert tables == ["belege.csv", "positionen.csv", "protokoll.csv"]
    for table in root.xpath("/DataSet/Media/Table"):
        url = table.findtext("URL")
        columns = table.xpath("VariableLength/VariablePrimaryKey|VariableLength/VariableColumn")
        rows = list(csv.reader(io.StringIO(archive.read(url).decode("utf-8")), delimiter=";"))
        assert all(len(row) == len(columns) for row in rows), url
    assert len(list(csv.reader(io.StringIO(archive.read("belege.csv").decode())))) == 3
    assert f"belege/{invoices[0].pk}.pdf" in archive.namelist()


def test_it_writes_scheduled_exports_twice_atomically_with_their_hashes(owner, invoices, settings):
    import pyarrow.parquet as pq

    runs = scheduled_export(target="steuerbuero", days=1, status="approved")
    assert sorted(run.format for run in runs) == ["json", "parquet"]
    for run in runs:
        with default_storage.open(run.storage_key, "rb") as exported:
            content = exported.read()
        assert hashlib.sha256(content).hexdigest() == run.sha256 and run.scheduled
    parquet = next(run for run in runs if run.format == "parquet")
    with default_storage.open(parquet.storage_key, "rb") as exported:
        assert pq.read_table(io.BytesIO(exported.read())).num_rows == 3
    assert atomic_save("exports/probe.txt", b"eins") == "exports/probe.txt"
    assert atomic_save("exports/probe.txt", b"zwei") == "exports/probe.txt"
    with default_storage.open("exports/probe.txt") as probe:
        assert probe.read() == b"zwei"
