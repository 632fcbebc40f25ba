import csv
import io

import pytest
from django.core.management import CommandError, call_command

from ablage.errors import ApplicationError
from suppliers.csv_exchange import HEADERS, supplier_export_csv, supplier_import_csv
from suppliers.models import Supplier, SupplierBankAccount
from suppliers.selectors import supplier_list
from suppliers.tests.conftest import IBAN_A, IBAN_B, IBAN_C, VAT_A, VAT_B

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def csv_bytes(rows, *, header=HEADERS, bom=True, encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header])
    return (("\ufeff" if bom else "") + out.getvalue()).encode(encoding)


def test_it_exports_for_german_excel(acme):
    acme.notes = '=HYPERLINK("http://böse.example")'
    acme.phone = "+49 221 123"
    acme.save()
    SupplierBankAccount.objects.create(supplier=acme, iban=IBAN_A, bic="COBADEFFXXX", is_primary=True)
    SupplierBankAccount.objects.create(supplier=acme, iban=IBAN_C)
    data = supplier_export_csv(supplier_list())
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == ";".join(HEADERS)
    assert "\r\n" in text
    row = dict(zip(HEADERS, next(csv.reader(io.StringIO(text.splitlines()[1]), delimiter=";")), strict=True))
    assert row["Name"] == "Acme Bürobedarf GmbH"
    assert row["IBAN"] == f"{IBAN_A} | {IBAN_C}" and row["BIC"] == "COBADEFFXXX | -"
    # Formulas are defused for Excel; the import takes the apostrophe off again.
    assert row["Notizen"].startswith("'=") and row["Telefon"] == "'+49 221 123"
    assert row["Aktiv"] == "ja"


def test_it_round_trips_an_export_through_the_import(owner, acme):
    SupplierBankAccount.objects.create(supplier=acme, iban=IBAN_A, is_primary=True)
    acme.name_variations = ["ACME"]
    acme.phone = "+49 221 123"
    acme.save()
    data = supplier_export_csv(supplier_list())
    Supplier.objects.all().delete()
    report = supplier_import_csv(data=data, user=owner)
    assert (report.created, report.updated, report.refused) == (1, 0, 0)
    supplier = Supplier.objects.get()
    assert (supplier.name, supplier.vat_id, supplier.supplier_number, supplier.phone) == (
        "Acme Bürobedarf GmbH",
        VAT_A,
        "K-100",
        "+49 221 123",
    )
    assert supplier.name_variations == ["ACME"]
    assert list(supplier.bank_accounts.values_list("iban", flat=True)) == [IBAN_A]


def test_it_reports_each_bad_row_and_imports_the_good_ones(owner, acme):
    rows = [
        {"Name": "Gut GmbH", "USt-IdNr.": VAT_B, "IBAN": IBAN_C, "Schlagwörter": "Energie | IT"},
        {"Name": "", "Ort": "Bonn"},
        {"Name": "Falsche USt GmbH", "USt-IdNr.": "DE812345674"},
        {"Name": "Falsche IBAN GmbH", "IBAN": "DE89370400440532013001"},
        {"Name": "Doppelt GmbH", "USt-IdNr.": VAT_B},
        {"Name": "Acme neu", "Lieferantennummer": "K-100", "Ort": "Bonn", "Namensvarianten": "Acme Köln"},
        {"Name": "Aktiv kaputt", "Aktiv": "vielleicht"},
    ]
    report = supplier_import_csv(data=csv_bytes(rows), user=owner)
    by_line = {row.line: row for row in report.rows}
    assert [row.ok for row in report.rows] == [True, False, False, False, False, True, False]
    assert by_line[3].errors == ["Name fehlt."]
    assert "USt-IdNr. „DE812345674“ ist ungültig" in by_line[4].errors[0]
    assert "IBAN „DE89370400440532013001“ ist ungültig" in by_line[5].errors[0]
    assert "steht schon in Zeile 2" in by_line[6].errors[0]
    assert "ja oder nein" in by_line[8].errors[0]
    assert (report.created, report.updated, report.refused) == (1, 1, 5)
    created = Supplier.objects.get(vat_id=VAT_B)
    assert created.name == "Gut GmbH" and created.bank_accounts.get().iban == IBAN_C
    assert sorted(created.tags.values_list("name", flat=True)) == ["Energie", "IT"]
    acme.refresh_from_db()
    assert (acme.name, acme.city, acme.name_variations) == ("Acme neu", "Bonn", ["Acme Köln"])
    assert not Supplier.objects.filter(name__in=["Falsche USt GmbH", "Falsche IBAN GmbH", "Doppelt GmbH"]).exists()


def test_it_refuses_an_iban_that_belongs_to_another_supplier(owner, acme_copy):
    report = supplier_import_csv(data=csv_bytes([{"Name": "Dritter", "IBAN": IBAN_B}]), user=owner)
    assert "gehört schon zum Lieferanten „ACME Buerobedarf“" in report.rows[0].errors[0]
    assert not Supplier.objects.filter(name="Dritter").exists()


def test_it_changes_nothing_in_a_dry_run_but_reports_what_it_would_do(owner, acme):
    rows = [{"Name": "Neu GmbH", "IBAN": IBAN_C}, {"Name": "Acme", "USt-IdNr.": VAT_A, "Ort": "Bonn"}]
    report = supplier_import_csv(data=csv_bytes(rows), user=owner, dry_run=True)
    assert (report.created, report.updated, report.refused) == (1, 1, 0)
    assert list(Supplier.objects.values_list("name", "city")) == [("Acme Bürobedarf GmbH", "Köln")]
    assert not SupplierBankAccount.objects.exists()


def test_it_reads_windows_1252_as_excel_saves_it(owner):
    data = csv_bytes([{"Name": "Bäckerei Weißgerber e.K.", "Ort": "Dresden"}], bom=False, encoding="cp1252")
    report = supplier_import_csv(data=data, user=owner)
    assert report.encoding == "Windows-1252"
    assert Supplier.objects.get().name == "Bäckerei Weißgerber e.K."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "leer"),
        (b"Name,Ort\r\nA,B\r\n", "Semikolon"),
        (b"Name;Farbe\r\nA;rot\r\n", "Unbekannte Spalten: Farbe"),
    ],
)
def test_it_refuses_a_file_it_cannot_read(owner, data, message):
    with pytest.raises(ApplicationError, match=message):
        supplier_import_csv(data=data, user=owner)


def test_it_imports_and_exports_from_the_command_line(owner, tmp_path, django_user_model):
    django_user_model.objects.create_superuser("admin@example.com", "Passwort-12345")
    good = tmp_path / "gut.csv"
    good.write_bytes(csv_bytes([{"Name": "Gut GmbH", "USt-IdNr.": VAT_B}]))
    out = io.StringIO()
    call_command("suppliers_import", str(good), stdout=out)
    assert "1 angelegt, 0 aktualisiert, 0 abgelehnt" in out.getvalue()
    bad = tmp_path / "schlecht.csv"
    bad.write_bytes(csv_bytes([{"Name": "", "Ort": "Bonn"}]))
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 Zeile"):
        call_command("suppliers_import", str(bad), "--user", owner.email, stdout=out)
    assert "Zeile 2 (-): Name fehlt." in out.getvalue()
    target = tmp_path / "export.csv"
    call_command("suppliers_export", "--output", str(target))
    assert target.read_bytes().startswith(b"\xef\xbb\xbf") and "Gut GmbH" in target.read_text("utf-8-sig")
