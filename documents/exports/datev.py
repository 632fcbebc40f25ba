"""DATEV-Format "Buchungsstapel" (EXTF, version 700, format category 21, format version 13)
for incoming invoices and credit notes, and the document images as a DATEV ZIP with
``document.xml`` (Belegtransfer, schema ``bedi/tps/document/v06.0``).

One booking line per invoice, or per VAT rate when the line items carry rates: the amount is
gross; ``Konto`` is the supplier's creditor account (Kreditor, from the supplier master data,
else the configured collective creditor), ``Gegenkonto`` the expense account, ``BU-Schlüssel``
the Vorsteuer key of the rate (SKR03: 9 = 19 %, 8 = 7 %). An invoice credits the creditor
("H"), a credit note debits it ("S"). ``Beleglink`` ties each line to its image in the ZIP.
Lengths, character sets and field counts follow DATEV's published format description; see
``datev_line_problems`` (the tests check every line against it).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.core.files.storage import default_storage
from django.utils import timezone

from ablage.errors import ApplicationError
from documents.exports.data import document_rows

# The 125 columns of a Buchungsstapel in DATEV's order (names as in DATEV's heading row).
COLUMNS = [
    "Umsatz (ohne Soll/Haben-Kz)", "Soll/Haben-Kennzeichen", "WKZ Umsatz", "Kurs", "Basis-Umsatz",
    "WKZ Basis-Umsatz", "Konto", "Gegenkonto (ohne BU-Schlüssel)", "BU-Schlüssel", "Belegdatum", "Belegfeld 1",
    "Belegfeld 2", "Skonto", "Buchungstext", "Postensperre", "Diverse Adressnummer", "Geschäftspartnerbank",
    "Sachverhalt", "Zinssperre", "Beleglink",
    *[name for n in range(1, 9) for name in (f"Beleginfo - Art {n}", f"Beleginfo - Inhalt {n}")],
    "KOST1 - Kostenstelle", "KOST2 - Kostenstelle", "Kost-Menge", "EU-Land u. UStID (Bestimmung)",
    "EU-Steuersatz (Bestimmung)", "Abw. Versteuerungsart", "Sachverhalt L+L", "Funktionsergänzung L+L",
    "BU 49 Hauptfunktionstyp", "BU 49 Hauptfunktionsnummer", "BU 49 Funktionsergänzung",
    *[name for n in range(1, 21) for name in (f"Zusatzinformation - Art {n}", f"Zusatzinformation- Inhalt {n}")],
    "Stück", "Gewicht", "Zahlweise", "Forderungsart", "Veranlagungsjahr", "Zugeordnete Fälligkeit", "Skontotyp",
    "Auftragsnummer", "Buchungstyp", "USt-Schlüssel (Anzahlungen)", "EU-Land (Anzahlungen)",
    "Sachverhalt L+L (Anzahlungen)", "EU-Steuersatz (Anzahlungen)", "Erlöskonto (Anzahlungen)", "Herkunft-Kz",
    "Buchungs GUID", "KOST-Datum", "SEPA-Mandatsreferenz", "Skontosperre", "Gesellschaftername",
    "Beteiligtennummer", "Identifikationsnummer", "Zeichnernummer", "Postensperre bis",
    "Bezeichnung SoBil-Sachverhalt", "Kennzeichen SoBil-Buchung", "Festschreibung", "Leistungsdatum",
    "Datum Zuord. Steuerperiode", "Fälligkeit", "Generalumkehr (GU)", "Steuersatz", "Land", "Abrechnungsreferenz",
    "BVV-Position", "EU-Land u. UStID (Ursprung)", "EU-Steuersatz (Ursprung)", "Abw. Skontokonto",
]  # fmt: skip
INDEX = {name: position for position, name in enumerate(COLUMNS)}
# Text columns are written in double quotes; numbers, amounts, dates and accounts are not.
TEXT_COLUMNS = {
    "Soll/Haben-Kennzeichen", "WKZ Umsatz", "WKZ Basis-Umsatz", "BU-Schlüssel", "Belegfeld 1", "Belegfeld 2",
    "Buchungstext", "Diverse Adressnummer", "Beleglink", "KOST1 - Kostenstelle", "KOST2 - Kostenstelle",
    "EU-Land u. UStID (Bestimmung)", "Abw. Versteuerungsart", "Forderungsart", "Auftragsnummer", "Buchungstyp",
    "EU-Land (Anzahlungen)", "Herkunft-Kz", "Buchungs GUID", "SEPA-Mandatsreferenz", "Gesellschaftername",
    "Identifikationsnummer", "Zeichnernummer", "Bezeichnung SoBil-Sachverhalt", "Generalumkehr (GU)", "Land",
    "Abrechnungsreferenz", "EU-Land u. UStID (Ursprung)",
    *[name for name in COLUMNS if name.startswith(("Beleginfo", "Zusatzinformation"))],
}  # fmt: skip
# The columns we fill, with DATEV's maximum length.
MAX_LENGTH = {
    "Umsatz (ohne Soll/Haben-Kz)": 13,  # up to 10 digits, comma, 2 decimals
    "Soll/Haben-Kennzeichen": 1,
    "WKZ Umsatz": 3,
    "Konto": 9,
    "Gegenkonto (ohne BU-Schlüssel)": 9,
    "BU-Schlüssel": 4,
    "Belegdatum": 4,
    "Belegfeld 1": 36,
    "Buchungstext": 60,
    "Beleglink": 210,
    "Beleginfo - Art 1": 20,
    "Beleginfo - Inhalt 1": 210,
    "Leistungsdatum": 8,
    "Fälligkeit": 8,
    "Festschreibung": 1,
}
HEADER_FIELD_COUNT = 31
_BELEGFELD_1 = re.compile(r"[^A-Za-z0-9$&%*+\-/]")
_AMOUNT = re.compile(r"^\d{1,10},\d{2}$")
_ACCOUNT = re.compile(r"^\d{1,9}$")


@dataclass
class DatevSettings:
    consultant_number: int
    client_number: int
    fiscal_year_start_month: int
    account_length: int
    chart: str
    default_creditor_account: str
    default_expense_account: str
    bu_keys: dict

    @classmethod
    def load(cls) -> DatevSettings:
        from system.selectors import config_get

        settings = cls(
            consultant_number=config_get("datev.consultant_number"),
            client_number=config_get("datev.client_number"),
            fiscal_year_start_month=config_get("datev.fiscal_year_start_month"),
            account_length=config_get("datev.account_length"),
            chart=config_get("datev.chart"),
            default_creditor_account=config_get("datev.default_creditor_account"),
            default_expense_account=config_get("datev.default_expense_account"),
            bu_keys=config_get("datev.bu_keys"),
        )
        if not 1001 <= settings.consultant_number <= 9_999_999 or not 1 <= settings.client_number <= 99_999:
            raise ApplicationError(
                "DATEV-Export nicht eingerichtet: Beraternummer (1001–9999999) und Mandantennummer (1–99999) "
                "unter Einstellungen → datev.* eintragen.",
                code="datev_not_configured",
            )
        return settings


@dataclass
class Booking:
    amount: Decimal
    debit_credit: str
    currency: str
    account: str
    contra_account: str
    bu_key: str
    document_date: date
    invoice_number: str
    text: str
    document_guid: str
    service_date: date | None
    due_date: date | None


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):.2f}".replace(".", ",")


def _rate_key(rate: Decimal) -> str:
    return str(rate.quantize(Decimal("1")) if rate == rate.to_integral() else rate.normalize())


def _gross_by_rate(row: dict, total: Decimal) -> list[tuple[Decimal, Decimal]]:
    """[(rate, gross)]: split by the line items' VAT rates when they have them, else one line."""
    nets: dict[Decimal, Decimal] = {}
    for item in row["_line_items"]:
        try:
            rate, net = Decimal(str(item.get("vat_rate"))), Decimal(str(item.get("line_total")))
        except (ArithmeticError, ValueError, TypeError):
            nets = {}
            break
        nets[rate] = nets.get(rate, Decimal(0)) + net
    if len(nets) > 1:
        shares = [(rate, (net * (1 + rate / 100)).quantize(Decimal("0.01"))) for rate, net in sorted(nets.items())]
        # Rounding per rate may miss the printed total by a cent: the largest share absorbs it.
        difference = total - sum(gross for _, gross in shares)
        largest = max(range(len(shares)), key=lambda index: shares[index][1])
        shares[largest] = (shares[largest][0], shares[largest][1] + difference)
        return shares
    if len(nets) == 1:
        return [(next(iter(nets)), total)]
    net, vat = row.get("net_amount"), row.get("vat_amount")
    rate = (vat / net * 100).quantize(Decimal("1")) if net and vat is not None else Decimal(0)
    return [(rate, total)]


def bookings(documents, settings: DatevSettings) -> list[Booking]:
    lines = []
    for row in document_rows(documents):
        document = row["_document"]
        total = row["total_amount"]
        when = row["invoice_date"]
        if document.document_type not in ("invoice", "credit_note") or total is None or when is None:
            continue
        supplier = document.supplier
        credit_note = document.document_type == "credit_note" or total < 0
        account = (
            (getattr(supplier, "datev_creditor_account", "") or settings.default_creditor_account)
            if supplier
            else settings.default_creditor_account
        )
        contra = (
            (getattr(supplier, "datev_expense_account", "") or settings.default_expense_account)
            if supplier
            else settings.default_expense_account
        )
        number = _BELEGFELD_1.sub("", row["invoice_number"] or "")[:36]
        name = row["supplier_name"] or document.title
        for rate, gross in _gross_by_rate(row, abs(total)):
            lines.append(
                Booking(
                    amount=abs(gross),
                    debit_credit="S" if credit_note else "H",
                    currency=(row["currency"] or "EUR")[:3],
                    account=account,
                    contra_account=contra,
                    bu_key=str(settings.bu_keys.get(_rate_key(rate), "")),
                    document_date=when,
                    invoice_number=number,
                    text=f"{name} {row['invoice_number'] or ''}".strip()[:60],
                    document_guid=str(document.pk),
                    service_date=None,
                    due_date=row["due_date"],
                )
            )
    return lines


def _fields(booking: Booking) -> list[str]:
    values = [""] * len(COLUMNS)

    def put(name, value):
        values[INDEX[name]] = value

    put("Umsatz (ohne Soll/Haben-Kz)", _money(booking.amount))
    put("Soll/Haben-Kennzeichen", booking.debit_credit)
    put("WKZ Umsatz", booking.currency)
    put("Konto", booking.account)
    put("Gegenkonto (ohne BU-Schlüssel)", booking.contra_account)
    put("BU-Schlüssel", booking.bu_key)
    put("Belegdatum", booking.document_date.strftime("%d%m"))
    put("Belegfeld 1", booking.invoice_number)
    put("Buchungstext", booking.text)
    put("Beleglink", f'BEDI "{booking.document_guid}"')
    put("Beleginfo - Art 1", "Ablage-Dokument")
    put("Beleginfo - Inhalt 1", booking.document_guid)
    if booking.due_date:
        put("Fälligkeit", booking.due_date.strftime("%d%m%Y"))
    put("Festschreibung", "0")
    return values


def datev_line_problems(values: list[str]) -> list[str]:
    """Everything in one data line that DATEV's format description does not allow."""
    problems = []
    if len(values) != len(COLUMNS):
        return [f"{len(values)} Felder statt {len(COLUMNS)}"]
    for name, limit in MAX_LENGTH.items():
        if len(values[INDEX[name]]) > limit:
            problems.append(f"{name}: länger als {limit} Zeichen")
    if not _AMOUNT.match(values[INDEX["Umsatz (ohne Soll/Haben-Kz)"]]):
        problems.append("Umsatz: erwartet 1 bis 10 Ziffern, Komma, 2 Nachkommastellen, ohne Vorzeichen")
    if values[INDEX["Soll/Haben-Kennzeichen"]] not in ("S", "H"):
        problems.append("Soll/Haben-Kennzeichen: S oder H")
    for name in ("Konto", "Gegenkonto (ohne BU-Schlüssel)"):
        if not _ACCOUNT.match(values[INDEX[name]]):
            problems.append(f"{name}: nur Ziffern, höchstens 9")
    if not re.fullmatch(r"(0[1-9]|[12]\d|3[01])(0[1-9]|1[0-2])", values[INDEX["Belegdatum"]]):
        problems.append("Belegdatum: TTMM")
    if _BELEGFELD_1.search(values[INDEX["Belegfeld 1"]]):
        problems.append("Belegfeld 1: nur A-Z, a-z, 0-9 und $ & % * + - /")
    return problems


def _quote(name: str, value: str) -> str:
    if name in TEXT_COLUMNS and value != "":
        return '"' + value.replace('"', '""') + '"'
    return value


def _fiscal_year_start(day: date, month: int) -> date:
    year = day.year if day.month >= month else day.year - 1
    return date(year, month, 1)


def buchungsstapel(documents, *, user, settings: DatevSettings | None = None, now: datetime | None = None) -> bytes:
    """The EXTF file for ``documents`` (one fiscal year), encoded as DATEV reads it (Windows-1252)."""
    settings = settings or DatevSettings.load()
    lines = bookings(documents, settings)
    if not lines:
        raise ApplicationError(
            "Keine buchbaren Belege in der Auswahl (Rechnungen oder Gutschriften mit Betrag und Datum).",
            code="datev_nothing_to_export",
        )
    starts = {_fiscal_year_start(line.document_date, settings.fiscal_year_start_month) for line in lines}
    if len(starts) > 1:
        raise ApplicationError(
            "Ein DATEV-Buchungsstapel umfasst genau ein Wirtschaftsjahr; bitte den Zeitraum einschränken.",
            code="datev_multiple_fiscal_years",
        )
    now = timezone.localtime(now or timezone.now())
    first, last = min(line.document_date for line in lines), max(line.document_date for line in lines)
    created = now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"
    header = [
        '"EXTF"', "700", "21", '"Buchungsstapel"', "13", created,
        "", '"RE"', '"' + (getattr(user, "email", "") or "Ablage")[:25].replace('"', "") + '"', '""',
        str(settings.consultant_number), str(settings.client_number), next(iter(starts)).strftime("%Y%m%d"),
        str(settings.account_length), first.strftime("%Y%m%d"), last.strftime("%Y%m%d"), '"Ablage Eingangsbelege"',
        '""', "1", "0", "0", '"EUR"', "", '""', "", "", f'"{settings.chart}"', "", "", '""', '""',
    ]  # fmt: skip
    assert len(header) == HEADER_FIELD_COUNT
    rows = [";".join(header), ";".join(COLUMNS)]
    for booking in lines:
        values = _fields(booking)
        problems = datev_line_problems(values)
        if problems:
            raise ApplicationError(
                f"Beleg {booking.invoice_number or booking.document_guid}: {'; '.join(problems)}",
                code="datev_invalid_line",
            )
        rows.append(";".join(_quote(name, value) for name, value in zip(COLUMNS, values, strict=True)))
    return ("\r\n".join(rows) + "\r\n").encode("cp1252", errors="replace")


def document_xml(documents) -> bytes:
    from lxml import etree

    namespace = "http://xml.datev.de/bedi/tps/document/v06.0"
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    root = etree.Element(
        f"{{{namespace}}}archive",
        nsmap={None: namespace, "xsi": xsi},
        version="6.0",
        generatingSystem="Ablage",
    )
    root.set(f"{{{xsi}}}schemaLocation", f"{namespace} Document_v060.xsd")
    header = etree.SubElement(root, f"{{{namespace}}}header")
    etree.SubElement(header, f"{{{namespace}}}date").text = timezone.localtime().strftime("%Y-%m-%dT%H:%M:%S")
    content = etree.SubElement(root, f"{{{namespace}}}content")
    for document in documents:
        # type 1: Eingangsrechnung (incoming); the GUID is the one in the booking's Beleglink.
        element = etree.SubElement(content, f"{{{namespace}}}document", guid=str(document.pk), type="1", processID="1")
        extension = etree.SubElement(element, f"{{{namespace}}}extension", name=datev_file_name(document))
        extension.set(f"{{{xsi}}}type", "File")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def datev_file_name(document) -> str:
    suffix = document.original_filename.rsplit(".", 1)[-1].lower() if "." in document.original_filename else "pdf"
    return f"{document.pk}.{suffix}"


def datev_package(documents, *, user) -> bytes:
    """ZIP: the Buchungsstapel and the images with ``document.xml``."""
    data = buchungsstapel(documents, user=user)
    included = list(documents)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"EXTF_Buchungsstapel_{timezone.localdate():%Y%m%d}.csv", data)
        archive.writestr("document.xml", document_xml(included))
        for document in included:
            with default_storage.open(document.storage_key, "rb") as original:
                archive.writestr(datev_file_name(document), original.read())
    return buffer.getvalue()


def parse_buchungsstapel(data: bytes) -> tuple[list[str], list[str], list[list[str]]]:
    """Header, column names and data lines of an EXTF file (for tests and re-reading)."""
    rows = list(csv.reader(io.StringIO(data.decode("cp1252")), delimiter=";"))
    return rows[0], rows[1], rows[2:]
