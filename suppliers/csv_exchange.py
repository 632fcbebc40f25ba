"""Supplier master data as CSV, the way German Excel reads and writes it.

Excel in a German locale opens a file by double-click only when the fields are separated by
semicolons, and reads UTF-8 only when the file starts with a byte order mark; without one it
assumes Windows-1252 and turns "Müller" into "MÃ¼ller". Files saved by Excel as "CSV
(Trennzeichen-getrennt)" come back in Windows-1252, so the import accepts that too.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` is a formula to Excel (CSV injection,
OWASP): the export puts an apostrophe before it, which Excel hides, and the import removes it.
"""

import csv
import io
import re
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext

from ablage.errors import ApplicationError
from suppliers.matching import normalize_email
from suppliers.models import (
    BIC_PATTERN,
    Supplier,
    iban_checksum_is_valid,
    normalize_iban,
    normalize_vat_id,
    vat_id_is_valid,
)

# (CSV header, Supplier attribute or list key). German headers; the order is the file's.
COLUMNS = (
    ("Lieferantennummer", "supplier_number"),
    ("Name", "name"),
    ("Firmenname", "legal_name"),
    ("Straße", "street"),
    ("PLZ", "postal_code"),
    ("Ort", "city"),
    ("Land", "country"),
    ("USt-IdNr.", "vat_id"),
    ("Steuernummer", "tax_number"),
    ("Handelsregister", "commercial_register"),
    ("IBAN", "ibans"),
    ("BIC", "bics"),
    ("E-Mail", "email"),
    ("Telefon", "phone"),
    ("Website", "website"),
    ("Branche", "industry"),
    ("DATEV-Kreditorenkonto", "datev_creditor_account"),
    ("DATEV-Aufwandskonto", "datev_expense_account"),
    ("Namensvarianten", "name_variations"),
    ("Absender-E-Mails", "typical_sender_emails"),
    ("Schlagwörter", "tags"),
    ("Notizen", "notes"),
    ("Aktiv", "is_active"),
)
HEADERS = tuple(header for header, _key in COLUMNS)
# Several values in one cell (bank accounts, names, addresses, tags).
LIST_SEPARATOR = " | "
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TRUE = {"ja", "j", "1", "wahr", "true", "x", "aktiv"}
_FALSE = {"nein", "n", "0", "falsch", "false", "inaktiv"}


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _uncell(text: str) -> str:
    text = (text or "").strip()
    return text[1:] if text.startswith("'") and text[1:2] in _FORMULA_START else text


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split("|") if part.strip()]


def supplier_export_csv(suppliers) -> bytes:
    """The suppliers as CSV bytes: UTF-8 with BOM, semicolons, CRLF, German headers."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    for supplier in suppliers.prefetch_related("bank_accounts", "tags"):
        accounts = list(supplier.bank_accounts.all())
        ibans = [account.iban for account in accounts]
        bics = [account.bic or "-" for account in accounts]
        if supplier.iban and normalize_iban(supplier.iban) not in ibans:
            ibans.insert(0, normalize_iban(supplier.iban))
            bics.insert(0, supplier.bic or "-")
        values = {
            "ibans": LIST_SEPARATOR.join(ibans),
            "bics": LIST_SEPARATOR.join(bics) if any(bic != "-" for bic in bics) else "",
            "name_variations": LIST_SEPARATOR.join(supplier.name_variations or []),
            "typical_sender_emails": LIST_SEPARATOR.join(supplier.typical_sender_emails or []),
            "tags": LIST_SEPARATOR.join(tag.name for tag in supplier.tags.all()),
            "is_active": "ja" if supplier.is_active else "nein",
        }
        writer.writerow([_cell(values[key] if key in values else getattr(supplier, key)) for _h, key in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@dataclass
class ImportRow:
    """One data line of an import file and what became of it."""

    line: int
    name: str
    action: str = ""  # "create", "update" or "" (refused)
    errors: list[str] = field(default_factory=list)
    supplier: Supplier | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportReport:
    rows: list[ImportRow]
    dry_run: bool
    encoding: str

    @property
    def created(self) -> int:
        return sum(1 for row in self.rows if row.ok and row.action == "create")

    @property
    def updated(self) -> int:
        return sum(1 for row in self.rows if row.ok and row.action == "update")

    @property
    def refused(self) -> int:
        return sum(1 for row in self.rows if not row.ok)


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "UTF-8 (BOM)"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "Windows-1252"


def _read(data: bytes) -> tuple[list[tuple[int, dict]], str]:
    if not data:
        raise ApplicationError(gettext("Die Datei ist leer."), code="empty_file")
    if len(data) > MAX_IMPORT_BYTES:
        raise ApplicationError(
            gettext("Die Datei ist größer als %(mb)d MB.") % {"mb": MAX_IMPORT_BYTES // 1024 // 1024}, code="too_large"
        )
    text, encoding = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    try:
        header = [cell.strip() for cell in next(reader, [])]
    except csv.Error as exc:
        raise ApplicationError(
            gettext("Die Datei ist kein lesbares CSV: %(error)s") % {"error": exc}, code="bad_csv"
        ) from exc
    if "Name" not in header:
        hint = gettext(" Trennzeichen muss das Semikolon sein.") if len(header) == 1 and "," in header[0] else ""
        raise ApplicationError(
            gettext("Die Kopfzeile hat keine Spalte „Name“.%(hint)s Erwartet: %(headers)s")
            % {"hint": hint, "headers": ";".join(HEADERS)},
            code="bad_header",
        )
    unknown = [cell for cell in header if cell and cell not in HEADERS]
    if unknown:
        raise ApplicationError(
            gettext("Unbekannte Spalten: %(columns)s. Erlaubt: %(headers)s")
            % {"columns": ", ".join(unknown), "headers": ";".join(HEADERS)},
            code="bad_header",
        )
    keys = dict(COLUMNS)
    rows = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_IMPORT_ROWS:
                raise ApplicationError(
                    gettext("Mehr als %(n)d Zeilen; bitte die Datei aufteilen.") % {"n": MAX_IMPORT_ROWS},
                    code="too_many_rows",
                )
            values = {keys[name]: _uncell(cell) for name, cell in zip(header, cells, strict=False) if name}
            if len(cells) > len(header):
                values["_extra_cells"] = str(len(cells) - len(header))
            rows.append((reader.line_num, values))
    except csv.Error as exc:
        raise ApplicationError(
            gettext("Zeile %(line)d ist kein gültiges CSV: %(error)s") % {"line": reader.line_num, "error": exc},
            code="bad_csv",
        ) from exc
    return rows, encoding


def _validate(values: dict, row: ImportRow) -> dict:
    """Checked and normalised values of one row; problems go into ``row.errors``."""
    clean: dict = {}
    if values.get("_extra_cells"):
        row.errors.append(gettext("Mehr Zellen als Spalten in der Kopfzeile (Semikolon im Text?)."))
    name = re.sub(r"\s+", " ", values.get("name", "")).strip()
    if not name:
        row.errors.append(gettext("Name fehlt."))
    clean["name"] = name
    for key in (
        "legal_name",
        "street",
        "postal_code",
        "city",
        "tax_number",
        "commercial_register",
        "phone",
        "website",
        "industry",
        "datev_creditor_account",
        "datev_expense_account",
        "notes",
    ):
        if key in values:
            clean[key] = values[key].strip()
    for key, label in (
        ("datev_creditor_account", "DATEV-Kreditorenkonto"),
        ("datev_expense_account", "DATEV-Aufwandskonto"),
    ):
        if clean.get(key) and not re.fullmatch(r"[0-9]{1,9}", clean[key]):
            row.errors.append(
                gettext("%(label)s „%(value)s“: erwartet bis zu 9 Ziffern.") % {"label": label, "value": clean[key]}
            )
    if "supplier_number" in values:
        clean["supplier_number"] = values["supplier_number"].strip() or None
    if "country" in values:
        country = values["country"].strip().upper() or "DE"
        if not re.fullmatch(r"[A-Z]{2}", country):
            row.errors.append(gettext("Land „%(value)s“: erwartet wird ein Ländercode wie DE.") % {"value": country})
        clean["country"] = country
    if "vat_id" in values:
        vat_id = normalize_vat_id(values["vat_id"])
        if vat_id and not vat_id_is_valid(vat_id):
            row.errors.append(
                gettext("USt-IdNr. „%(value)s“ ist ungültig (Aufbau oder Prüfziffer).") % {"value": vat_id}
            )
        clean["vat_id"] = vat_id
    if "email" in values:
        email = values["email"].strip()
        if email and not normalize_email(email):
            row.errors.append(gettext("E-Mail „%(value)s“ ist ungültig.") % {"value": email})
        clean["email"] = normalize_email(email) if email else ""
    ibans = [normalize_iban(value) for value in _split(values.get("ibans", ""))]
    bics = ["" if value == "-" else value.replace(" ", "").upper() for value in _split(values.get("bics", ""))]
    for iban in ibans:
        if not iban_checksum_is_valid(iban):
            row.errors.append(gettext("IBAN „%(value)s“ ist ungültig (Aufbau oder Prüfziffer).") % {"value": iban})
    if len(bics) > len(ibans):
        row.errors.append(gettext("Mehr BICs als IBANs."))
    for bic in bics:
        if bic and not re.fullmatch(BIC_PATTERN, bic):
            row.errors.append(gettext("BIC „%(value)s“ ist ungültig.") % {"value": bic})
    if len(set(ibans)) != len(ibans):
        row.errors.append(gettext("Eine IBAN steht zweimal in der Zeile."))
    clean["accounts"] = [(iban, bics[i] if i < len(bics) else "") for i, iban in enumerate(ibans)]
    if "name_variations" in values:
        clean["name_variations"] = _split(values["name_variations"])
    if "typical_sender_emails" in values:
        emails = _split(values["typical_sender_emails"])
        for email in emails:
            if not normalize_email(email):
                row.errors.append(gettext("Absender-E-Mail „%(value)s“ ist ungültig.") % {"value": email})
        clean["typical_sender_emails"] = [normalize_email(email) for email in emails if normalize_email(email)]
    if "tags" in values:
        clean["tags"] = _split(values["tags"])
    if "is_active" in values:
        flag = values["is_active"].strip().casefold()
        if flag and flag not in _TRUE | _FALSE:
            row.errors.append(gettext("Aktiv „%(value)s“: erwartet ja oder nein.") % {"value": values["is_active"]})
        clean["is_active"] = flag not in _FALSE
    return clean


def _existing(clean: dict) -> Supplier | None:
    """The supplier a row describes: by Lieferantennummer, else by USt-IdNr."""
    if clean.get("supplier_number"):
        found = Supplier.objects.filter(supplier_number=clean["supplier_number"]).first()
        if found is not None:
            return found
    if clean.get("vat_id"):
        return Supplier.objects.filter(vat_id=clean["vat_id"]).order_by("created_at").first()
    return None


@transaction.atomic
def supplier_import_csv(*, data: bytes, user, dry_run: bool = False) -> ImportReport:
    """Import master data: a row updates the supplier with its Lieferantennummer or
    USt-IdNr., otherwise creates one. Rows with errors are refused and reported; the others
    are applied (and rolled back again when ``dry_run``). Each change is audited by the
    service that makes it. Bank accounts and list cells are added to what
    the supplier has, never removed: an import does not delete master data.
    """
    from suppliers.services import (
        iban_owner,
        supplier_bank_account_add,
        supplier_create,
        supplier_update,
    )

    raw_rows, encoding = _read(data)
    report = ImportReport(rows=[], dry_run=dry_run, encoding=encoding)
    seen: dict[str, int] = {}
    for line, values in raw_rows:
        row = ImportRow(line=line, name=values.get("name", "").strip())
        report.rows.append(row)
        clean = _validate(values, row)
        for kind, value in (
            (gettext("Lieferantennummer"), clean.get("supplier_number")),
            (gettext("USt-IdNr."), clean.get("vat_id")),
            *((gettext("IBAN"), iban) for iban, _bic in clean["accounts"]),
        ):
            if not value:
                continue
            earlier = seen.get(f"{kind}:{value}")
            if earlier is not None:
                row.errors.append(
                    gettext("Doppelt in der Datei: %(kind)s %(value)s steht schon in Zeile %(line)d.")
                    % {"kind": kind, "value": value, "line": earlier}
                )
            else:
                seen[f"{kind}:{value}"] = line
        existing = _existing(clean)
        for iban, _bic in clean["accounts"]:
            owner = iban_owner(iban, exclude=existing)
            if owner is not None and iban_checksum_is_valid(iban):
                row.errors.append(
                    gettext("IBAN %(iban)s gehört schon zum Lieferanten „%(name)s“.")
                    % {"iban": iban, "name": owner.name}
                )
        row.action = "update" if existing is not None else "create"
        if row.errors:
            row.action = ""
            continue
        row.supplier = existing
        data_fields = {key: value for key, value in clean.items() if key not in ("accounts", "tags")}
        tags = clean.get("tags")
        try:
            with transaction.atomic():
                if existing is None:
                    supplier = supplier_create(user=user, data=data_fields, tags=tags)
                else:
                    data_fields["name_variations"] = [
                        *existing.name_variations,
                        *clean.get("name_variations", []),
                    ]
                    data_fields["typical_sender_emails"] = [
                        *existing.typical_sender_emails,
                        *clean.get("typical_sender_emails", []),
                    ]
                    if tags is not None:
                        tags = [*existing.tags.values_list("name", flat=True), *tags]
                    supplier = supplier_update(supplier=existing, user=user, data=data_fields, tags=tags)
                known = set(supplier.bank_accounts.values_list("iban", flat=True))
                for iban, bic in clean["accounts"]:
                    if iban not in known:
                        supplier_bank_account_add(supplier=supplier, user=user, iban=iban, bic=bic)
        except ApplicationError as refusal:
            row.errors.append(refusal.message)
            row.action = ""
            continue
        row.supplier = supplier
    if dry_run:
        # The trial run wrote everything, so that it finds what only the database can (a
        # Lieferantennummer taken, a field too long); now it is all undone.
        transaction.set_rollback(True)
    return report
