"""German invoice test data with ground truth, made by code and reproducible from a seed.

``random_invoice(seed)`` draws an :class:`InvoiceSpec` (supplier, recipient, numbers, dates,
line items); ``render_pdf(spec)`` prints it born-digital in one of three layouts and
``render_scan(spec, ...)`` turns that print into a noisy, slightly rotated scan. The spec's
``ground_truth()`` is what a perfect extraction returns, in the normalised form of
``extraction.types.FieldValue.normalized``.

Example::

    spec = random_invoice(7, layout="B")
    pdf = render_pdf(spec)
    png = render_scan(spec, seed=7, fmt="png")
    expected = spec.ground_truth()
"""

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from ablage.testing.german import (
    german_iban,
    german_vat_id,
    money,
    normalise_amount,
)
from ablage.testing.invoice_pdf import LAYOUTS, render_pdf
from ablage.testing.scans import SCAN_FORMATS, render_scan

__all__ = [
    "DOCUMENT_TYPES",
    "LAYOUTS",
    "SCAN_FORMATS",
    "Address",
    "InvoiceSpec",
    "LineItem",
    "SupplierIdentity",
    "random_invoice",
    "render_pdf",
    "render_scan",
]

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
DELIVERY_NOTE = "delivery_note"
LETTER = "letter"
DOCUMENT_TYPES = (INVOICE, CREDIT_NOTE, DELIVERY_NOTE, LETTER)
# Only these two carry amounts, a payment term and a number that is an invoice number.
BILLING_TYPES = (INVOICE, CREDIT_NOTE)

VAT_STANDARD = Decimal("19")
VAT_REDUCED = Decimal("7")

UNIT_PIECE = "Stk."
UNIT_HOUR = "Std."
UNIT_KG = "kg"


@dataclass(frozen=True)
class Address:
    """A German postal address; ``attention`` is the optional "z. Hd." line."""

    name: str
    street: str
    postal_code: str
    city: str
    attention: str = ""

    def lines(self) -> list[str]:
        lines = [self.name]
        if self.attention:
            lines.append(self.attention)
        return [*lines, self.street, f"{self.postal_code} {self.city}"]

    def one_line(self) -> str:
        return f"{self.name} · {self.street} · {self.postal_code} {self.city}"


@dataclass(frozen=True)
class SupplierIdentity:
    """Everything a supplier prints on its letterhead and in the footer (Pflichtangaben §14 UStG)."""

    address: Address
    vat_id: str  # USt-IdNr.
    tax_number: str  # Steuernummer des Finanzamts
    bank_name: str
    iban: str
    bic: str
    phone: str
    email: str
    managing_director: str
    register: str  # Handelsregister entry

    @property
    def name(self) -> str:
        return self.address.name


@dataclass(frozen=True)
class LineItem:
    position: int
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    vat_rate: Decimal

    @property
    def net_amount(self) -> Decimal:
        return money(self.quantity * self.unit_price)

    def normalised(self) -> dict:
        return {
            "position": self.position,
            "description": self.description,
            "quantity": format(self.quantity.normalize(), "f"),
            "unit": self.unit,
            "unit_price": normalise_amount(self.unit_price),
            "vat_rate": format(self.vat_rate.normalize(), "f"),
            "net_amount": normalise_amount(self.net_amount),
        }


@dataclass(frozen=True)
class VatGroup:
    """One line of the VAT breakdown: all positions with the same rate."""

    rate: Decimal
    net_amount: Decimal
    vat_amount: Decimal


@dataclass
class InvoiceSpec:
    """The truth behind one generated document.

    ``invoice_number`` is the document's own number whatever its type (for a delivery note the
    Lieferscheinnummer); ``ground_truth()`` reports it as ``invoice_number`` only for invoices
    and credit notes. Amounts of a credit note (Gutschrift) are printed and reported positive;
    the document type says which way the money flows. When ``due_date_printed`` is false the
    document only says "Zahlbar innerhalb N Tagen ohne Abzug" and the ground-truth due date is
    the one a reader works out from it.
    """

    document_type: str
    layout: str
    supplier: SupplierIdentity
    recipient: Address
    invoice_number: str
    invoice_date: date
    payment_days: int
    due_date_printed: bool
    customer_number: str
    order_number: str
    line_items: list[LineItem] = field(default_factory=list)
    currency: str = "EUR"
    reference_invoice_number: str = ""  # the invoice a credit note corrects
    delivery_date: date | None = None
    letter_subject: str = ""
    letter_paragraphs: tuple[str, ...] = ()

    @property
    def is_billing(self) -> bool:
        return self.document_type in BILLING_TYPES

    @property
    def due_date(self) -> date | None:
        if self.document_type != INVOICE:
            return None
        return self.invoice_date + timedelta(days=self.payment_days)

    @property
    def vat_groups(self) -> list[VatGroup]:
        # VAT is computed once per rate on the summed net amounts, as §14 Abs. 4 Nr. 8 UStG
        # prints it, not per line; per-line rounding would drift by cents on long invoices.
        nets: dict[Decimal, Decimal] = {}
        for item in self.line_items:
            nets[item.vat_rate] = nets.get(item.vat_rate, Decimal("0")) + item.net_amount
        return [
            VatGroup(rate=rate, net_amount=net, vat_amount=money(net * rate / 100))
            for rate, net in sorted(nets.items())
        ]

    @property
    def net_amount(self) -> Decimal:
        return sum((item.net_amount for item in self.line_items), Decimal("0.00"))

    @property
    def vat_amount(self) -> Decimal:
        return sum((group.vat_amount for group in self.vat_groups), Decimal("0.00"))

    @property
    def total_amount(self) -> Decimal:
        return self.net_amount + self.vat_amount

    @property
    def prints_bank_details(self) -> bool:
        # Layout B prints IBAN and BIC only in the payment box beside the totals.
        return self.layout != "B" or self.is_billing

    @property
    def prints_customer_number(self) -> bool:
        # Only layout A's letter has an info block; B and C letters show just the date.
        return self.document_type != LETTER or self.layout == "A"

    @property
    def prints_order_number(self) -> bool:
        # Letters have none; layout B's credit note shows "Zu Rechnung" in that header cell.
        if self.document_type == LETTER:
            return False
        return not (self.layout == "B" and self.document_type == CREDIT_NOTE)

    def ground_truth(self) -> dict:
        """Normalised field values a perfect extraction of this document returns.

        Only what the page prints: a field the layout leaves out of this document type is None,
        so a scorer does not count a correct "not found" as a miss.
        """
        billing = self.is_billing
        due = self.due_date
        return {
            "document_type": self.document_type,
            "document_number": self.invoice_number if self.document_type != LETTER else None,
            "document_date": self.invoice_date.isoformat(),
            "invoice_number": self.invoice_number if billing else None,
            "invoice_date": self.invoice_date.isoformat() if billing else None,
            "due_date": due.isoformat() if due else None,
            "supplier_name": self.supplier.name,
            "supplier_vat_id": self.supplier.vat_id,
            "iban": self.supplier.iban if self.prints_bank_details else None,
            "bic": self.supplier.bic if self.prints_bank_details else None,
            "net_amount": normalise_amount(self.net_amount) if billing else None,
            "vat_amount": normalise_amount(self.vat_amount) if billing else None,
            "total_amount": normalise_amount(self.total_amount) if billing else None,
            "currency": self.currency if billing else None,
            "order_number": self.order_number if self.prints_order_number else None,
            "customer_number": self.customer_number if self.prints_customer_number else None,
            "reference_invoice_number": self.reference_invoice_number or None,
            "vat_breakdown": [
                {
                    "rate": format(group.rate.normalize(), "f"),
                    "net_amount": normalise_amount(group.net_amount),
                    "vat_amount": normalise_amount(group.vat_amount),
                }
                for group in self.vat_groups
            ]
            if billing
            else [],
            "line_items": [item.normalised() for item in self.line_items],
        }


@dataclass(frozen=True)
class _CatalogueItem:
    description: str
    unit: str
    price: Decimal
    vat_rate: Decimal = VAT_STANDARD
    # Quantities this item is sold in; "Std." and "kg" may be fractional.
    quantities: tuple[str, ...] = ("1", "2", "3", "5", "10")


@dataclass(frozen=True)
class _SupplierProfile:
    identity: SupplierIdentity
    number_format: str  # str.format with year, yy, n
    customer_format: str
    catalogue: tuple[_CatalogueItem, ...]


def _item(description, unit, price, vat=VAT_STANDARD, quantities=None) -> _CatalogueItem:
    if quantities is None:
        quantities = {
            UNIT_HOUR: ("0.5", "1", "1.5", "2", "2.5", "4", "6.5", "8"),
            UNIT_KG: ("0.75", "2.5", "5", "12.5", "25", "40"),
        }.get(unit, ("1", "2", "3", "4", "5", "10", "12", "20"))
    return _CatalogueItem(description, unit, Decimal(price), vat, tuple(quantities))


def _supplier(
    name, street, postal_code, city, *, vat8, tax_number, bank, blz, account, bic, phone, email, director, register
):
    return SupplierIdentity(
        address=Address(name, street, postal_code, city),
        vat_id=german_vat_id(vat8),
        tax_number=tax_number,
        bank_name=bank,
        iban=german_iban(blz, account),
        bic=bic,
        phone=phone,
        email=email,
        managing_director=director,
        register=register,
    )


# Fictitious businesses. Bank codes and BICs are those of real German banks so that BLZ/BIC
# plausibility checks pass; the account numbers are made up.
_SUPPLIERS: tuple[_SupplierProfile, ...] = (
    _SupplierProfile(
        identity=_supplier(
            "Müller Bürobedarf GmbH",
            "Hansaring 42",
            "50670",
            "Köln",
            vat8="81234567",
            tax_number="217/5730/1234",
            bank="Sparkasse KölnBonn",
            blz="37050198",
            account="1902345678",
            bic="COLSDE33XXX",
            phone="0221 912345-0",
            email="buchhaltung@mueller-buerobedarf.de",
            director="Sabine Müller",
            register="Amtsgericht Köln HRB 48213",
        ),
        number_format="RE-{year}-{n:05d}",
        customer_format="KD-{n:05d}",
        catalogue=(
            _item("Kopierpapier A4, 80 g/m², 500 Blatt", UNIT_PIECE, "4.49", quantities=("10", "25", "50", "100")),
            _item("Ordner breit, Rückenschild weiß", UNIT_PIECE, "2.79", quantities=("10", "20", "50")),
            _item("Kugelschreiber blau, Großpackung (50 Stück)", UNIT_PIECE, "24.90"),
            _item("Bürodrehstuhl „Ergo Plus“ mit Armlehnen", UNIT_PIECE, "389.00", quantities=("1", "2", "4")),
            _item("Schreibtisch höhenverstellbar, 160 × 80 cm", UNIT_PIECE, "649.00", quantities=("1", "2", "3")),
            _item("Tonerkartusche schwarz für Laserdrucker", UNIT_PIECE, "89.90"),
            _item("Heftgerät für Stöße bis 40 Blatt", UNIT_PIECE, "17.45"),
            _item("Fachbuch „Umsatzsteuer für Büroprofis“", UNIT_PIECE, "39.80", VAT_REDUCED, ("1", "2", "5")),
        ),
    ),
    _SupplierProfile(
        identity=_supplier(
            "Elektro Schröder GmbH & Co. KG",
            "Industriestraße 7",
            "80939",
            "München",
            vat8="29876543",
            tax_number="143/123/45678",
            bank="Stadtsparkasse München",
            blz="70150000",
            account="22334455",
            bic="SSKMDEMMXXX",
            phone="089 3168 224",
            email="rechnung@elektro-schroeder.de",
            director="Günter Schröder",
            register="Amtsgericht München HRA 99871",
        ),
        number_format="{year}-{n:04d}",
        customer_format="K-{n:04d}",
        catalogue=(
            _item("Arbeitszeit Elektromeister", UNIT_HOUR, "68.00"),
            _item("Arbeitszeit Geselle", UNIT_HOUR, "54.00"),
            _item("Installationskabel NYM-J 3×1,5 mm², Ring 50 m", UNIT_PIECE, "42.90", quantities=("1", "2", "4")),
            _item("Steckdose Unterputz, reinweiß", UNIT_PIECE, "6.90"),
            _item("Fehlerstromschutzschalter 40 A / 30 mA", UNIT_PIECE, "48.50", quantities=("1", "2", "3")),
            _item("LED-Außenleuchte mit Bewegungsmelder", UNIT_PIECE, "79.00"),
            _item("Unterverteilung 3-reihig, komplett bestückt", UNIT_PIECE, "1185.00", quantities=("1",)),
            _item("Anfahrtspauschale Großraum München", UNIT_PIECE, "35.00", quantities=("1", "2")),
        ),
    ),
    _SupplierProfile(
        identity=_supplier(
            "Bäckerei Weißgerber e.K.",
            "Marktstraße 3",
            "01067",
            "Dresden",
            vat8="45671234",
            tax_number="202/118/04712",
            bank="Ostsächsische Sparkasse Dresden",
            blz="85050300",
            account="3120456789",
            bic="OSDDDE81XXX",
            phone="0351 4960 113",
            email="info@baeckerei-weissgerber.de",
            director="Inh. Jörg Weißgerber",
            register="Amtsgericht Dresden HRA 7712",
        ),
        number_format="R{yy}{n:05d}",
        customer_format="{n:05d}",
        catalogue=(
            _item("Brötchen, gemischt", UNIT_PIECE, "0.45", VAT_REDUCED, ("40", "80", "120", "250", "600")),
            _item("Butterkuchen vom Blech", UNIT_KG, "12.80", VAT_REDUCED),
            _item("Vollkornbrot, 1 kg", UNIT_PIECE, "4.20", VAT_REDUCED),
            _item("Käsekuchen, ganz (16 Stück)", UNIT_PIECE, "24.50", VAT_REDUCED),
            _item("Mohnstriezel nach Großmutters Art", UNIT_PIECE, "6.80", VAT_REDUCED),
            _item("Kaffee in Thermoskannen, Ausschank", UNIT_PIECE, "18.00", VAT_STANDARD),
            _item("Lieferung und Aufbau Frühstücksbuffet", UNIT_PIECE, "45.00", VAT_STANDARD, ("1",)),
            _item("Catering-Personal", UNIT_HOUR, "32.00", VAT_STANDARD),
        ),
    ),
    _SupplierProfile(
        identity=_supplier(
            "Grünwald Garten- und Landschaftsbau GmbH",
            "Am Mühlbach 12",
            "70597",
            "Stuttgart",
            vat8="14725836",
            tax_number="99012/34567",
            bank="BW-Bank",
            blz="60050101",
            account="7401234567",
            bic="SOLADEST600",
            phone="0711 765 40 90",
            email="buero@gruenwald-galabau.de",
            director="Matthias Grünwald",
            register="Amtsgericht Stuttgart HRB 735512",
        ),
        number_format="AR{year}{n:04d}",
        customer_format="KNR {n:04d}",
        catalogue=(
            _item("Rasenpflege inkl. Vertikutieren", UNIT_HOUR, "52.00"),
            _item("Heckenschnitt, Entsorgung des Grünschnitts", UNIT_HOUR, "48.00"),
            _item("Rindenmulch, lose", UNIT_KG, "0.38", quantities=("250", "500", "1200")),
            _item("Pflanzerde torffrei", UNIT_KG, "0.55", quantities=("100", "300", "750")),
            _item("Obstbaum Hochstamm, Sorte „Boskoop“", UNIT_PIECE, "89.00", VAT_REDUCED, ("1", "2", "3")),
            _item("Staudenmischung für Schattenbeete", UNIT_PIECE, "7.90", VAT_REDUCED),
            _item("Pflasterarbeiten Zufahrt, Granit", UNIT_HOUR, "58.00"),
            _item("Minibagger mit Fahrer, Tagessatz", UNIT_PIECE, "690.00", quantities=("1", "2")),
        ),
    ),
    _SupplierProfile(
        identity=_supplier(
            "Krause IT-Service UG (haftungsbeschränkt)",
            "Schönhauser Allee 88",
            "10439",
            "Berlin",
            vat8="30567891",
            tax_number="29/512/30784",
            bank="Commerzbank Berlin",
            blz="10040000",
            account="412398765",
            bic="COBADEBBXXX",
            phone="030 4403 9921",
            email="rechnungen@krause-it.de",
            director="Dennis Krause",
            register="Amtsgericht Charlottenburg HRB 201834 B",
        ),
        number_format="{n:07d}",
        customer_format="C{n:05d}",
        catalogue=(
            _item("IT-Support vor Ort", UNIT_HOUR, "95.00"),
            _item("Einrichtung Firewall und VPN-Zugänge", UNIT_HOUR, "110.00"),
            _item("Notebook 14 Zoll mit Dockingstation", UNIT_PIECE, "1299.00", quantities=("1", "2", "3")),
            _item("Office-Paket Business, Jahreslizenz", UNIT_PIECE, "149.40"),
            _item("Netzwerk-Switch 24 Port, verwaltet", UNIT_PIECE, "289.00", quantities=("1", "2")),
            _item("Datensicherung, Wartungspauschale monatlich", UNIT_PIECE, "79.00", quantities=("1", "3", "12")),
            _item("Schulung „Datenschutz im Büroalltag“", UNIT_HOUR, "85.00"),
        ),
    ),
    _SupplierProfile(
        identity=_supplier(
            "Hofmann & Söhne Druckerei OHG",
            "Gießener Straße 21",
            "35390",
            "Gießen",
            vat8="11223344",
            tax_number="020 234 56789",
            bank="Volksbank Mittelhessen",
            blz="51390000",
            account="56781234",
            bic="VBMHDE5FXXX",
            phone="0641 97 22 10",
            email="auftrag@hofmann-druck.de",
            director="Peter und Lukas Hofmann",
            register="Amtsgericht Gießen HRA 3391",
        ),
        number_format="DR-{n:05d}",
        customer_format="{n:06d}",
        catalogue=(
            _item("Visitenkarten 4/4-farbig, 500 Stück", UNIT_PIECE, "49.00"),
            _item("Flyer DIN lang, 5.000 Stück", UNIT_PIECE, "289.00", quantities=("1", "2", "4")),
            _item("Briefbogen mit Logo, 1.000 Blatt", UNIT_PIECE, "119.00"),
            _item("Broschüre „Jahresbericht“, 48 Seiten", UNIT_PIECE, "3.85", VAT_REDUCED, ("250", "500", "1000")),
            _item("Satz- und Gestaltungsarbeiten", UNIT_HOUR, "72.00"),
            _item("Großformatdruck Messewand, 3 × 2,25 m", UNIT_PIECE, "1460.00", quantities=("1",)),
        ),
    ),
    _SupplierProfile(
        identity=_supplier(
            "Getränke Kößler AG",
            "Hafenstraße 15",
            "20457",
            "Hamburg",
            vat8="27364512",
            tax_number="47/123/45678",
            bank="Hamburger Sparkasse",
            blz="20050550",
            account="1263498172",
            bic="HASPDEHHXXX",
            phone="040 3290 5510",
            email="faktura@koessler-getraenke.de",
            director="Vorstand: Dr. Anke Kößler",
            register="Amtsgericht Hamburg HRB 150993",
        ),
        number_format="GK{year}/{n:05d}",
        customer_format="D-{n:05d}",
        catalogue=(
            _item("Mineralwasser still, Kasten 12 × 1,0 l", UNIT_PIECE, "6.99", quantities=("10", "20", "40", "80")),
            _item("Apfelsaftschorle, Kasten 12 × 0,5 l", UNIT_PIECE, "9.49", quantities=("5", "10", "25")),
            _item("Kaffeebohnen Espresso, fair gehandelt", UNIT_KG, "18.90", VAT_REDUCED, ("2", "5", "10", "20")),
            _item("Frischmilch 3,5 % Fett, 1 l", UNIT_PIECE, "1.19", VAT_REDUCED, ("12", "24", "60")),
            _item("Orangensaft Direktsaft, Kasten 6 × 1,0 l", UNIT_PIECE, "14.90"),
            _item("Zapfanlage Miete inkl. Reinigung", UNIT_PIECE, "95.00", quantities=("1", "2")),
        ),
    ),
)

SUPPLIERS: tuple[SupplierIdentity, ...] = tuple(profile.identity for profile in _SUPPLIERS)

_RECIPIENTS: tuple[Address, ...] = (
    Address("Schreinerei Hoffmann GmbH", "Werkstattweg 4", "48143", "Münster", "z. Hd. Frau Lehmann"),
    Address("Praxis Dr. med. Jürgen Weiß", "Bahnhofstraße 17", "93047", "Regensburg"),
    Address("Steuerkanzlei Bauer & Partner mbB", "Königsallee 60", "40212", "Düsseldorf", "Buchhaltung"),
    Address("Autohaus Fuchs GmbH", "Gewerbepark Süd 9", "04319", "Leipzig"),
    Address("Hotel Zur Post Betriebs-GmbH", "Marktplatz 1", "97070", "Würzburg", "z. Hd. Herrn Öztürk"),
    Address(
        "Bergmann Maschinenbau AG", "Rheinuferstraße 112", "67061", "Ludwigshafen am Rhein", "Kreditorenbuchhaltung"
    ),
    Address("Kita Sonnenschein gGmbH", "Lindenstraße 23a", "24103", "Kiel"),
)

_LETTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Preisanpassung zum 1. Januar",
        (
            "wegen gestiegener Material- und Energiekosten müssen wir unsere Preise zum Jahreswechsel anpassen.",
            "Die neue Preisliste liegt diesem Schreiben bei. Für bereits bestätigte Aufträge gelten die "
            "vereinbarten Konditionen unverändert weiter.",
            "Für Rückfragen stehen wir Ihnen gern zur Verfügung.",
        ),
    ),
    (
        "Änderung unserer Bankverbindung",
        (
            "bitte beachten Sie, dass sich unsere Bankverbindung geändert hat.",
            "Überweisungen richten Sie ab sofort ausschließlich an das im Fuß dieses Schreibens genannte "
            "Konto. Zahlungen auf das bisherige Konto werden noch bis zum Monatsende weitergeleitet.",
        ),
    ),
    (
        "Betriebsferien",
        (
            "unser Betrieb bleibt vom 23. Dezember bis einschließlich 2. Januar geschlossen.",
            "Bestellungen, die bis zum 18. Dezember bei uns eingehen, liefern wir selbstverständlich noch "
            "vor den Feiertagen aus. Wir wünschen Ihnen erholsame Festtage.",
        ),
    ),
)

# No format starts with a word a label could be ("Ihre Bestellung: Bestellung 0614" leaves the
# reader unsure whether the number is "0614" or the whole phrase).
_ORDER_FORMATS = ("BE-{year}-{n:03d}", "45{n:08d}", "BST-{n:04d}", "PO-{n:05d}")


def random_invoice(
    seed: int, *, layout: str | None = None, document_type: str = INVOICE, item_count: int | None = None
) -> InvoiceSpec:
    """Draw one document deterministically from ``seed``.

    ``layout`` is "A", "B" or "C" (drawn from the seed when None); ``item_count`` forces the
    number of line items (e.g. 40 for a multi-page invoice), otherwise 1-8 and now and then
    enough to run onto a second page.
    """
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"Unbekanntes Layout {layout!r}; erlaubt sind {', '.join(LAYOUTS)}.")
    if document_type not in DOCUMENT_TYPES:
        raise ValueError(f"Unbekannter Dokumenttyp {document_type!r}; erlaubt sind {', '.join(DOCUMENT_TYPES)}.")
    if item_count is not None and not 1 <= item_count <= 200:
        raise ValueError(f"item_count muss zwischen 1 und 200 liegen, nicht {item_count}.")

    # Test data, not secrets; a string seed hashes with SHA-512 inside random.Random, so the
    # sequence does not depend on PYTHONHASHSEED.
    rng = random.Random(f"ablage-invoice:{seed}")  # noqa: S311
    profile = rng.choice(_SUPPLIERS)
    layout = layout or rng.choice(LAYOUTS)
    invoice_date = date(2025, 1, 2) + timedelta(days=rng.randrange(0, 700))
    year = invoice_date.year
    number = profile.number_format.format(year=year, yy=f"{year % 100:02d}", n=rng.randrange(1, 9999))
    reference = ""
    if document_type == CREDIT_NOTE:
        reference = number
        number = f"GS-{year}-{rng.randrange(1, 999):04d}"
    elif document_type == DELIVERY_NOTE:
        number = f"LS-{year}-{rng.randrange(1, 99999):05d}"

    if item_count is None:
        item_count = rng.choice((1, 2, 3, 3, 4, 5, 6, 8)) if rng.random() > 0.08 else rng.randrange(26, 40)
    items = _draw_items(rng, profile, item_count, want_large=rng.random() < 0.75)
    if document_type == LETTER:
        items = []
    subject, paragraphs = rng.choice(_LETTERS) if document_type == LETTER else ("", ())

    return InvoiceSpec(
        document_type=document_type,
        layout=layout,
        supplier=profile.identity,
        recipient=rng.choice(_RECIPIENTS),
        invoice_number=number,
        invoice_date=invoice_date,
        payment_days=rng.choice((14, 14, 30, 10)),
        due_date_printed=rng.random() < 0.5,
        customer_number=profile.customer_format.format(n=rng.randrange(100, 99999)),
        order_number=rng.choice(_ORDER_FORMATS).format(year=year, n=rng.randrange(1, 999)),
        line_items=items,
        reference_invoice_number=reference,
        delivery_date=invoice_date - timedelta(days=rng.randrange(0, 6)),
        letter_subject=subject,
        letter_paragraphs=paragraphs,
    )


def _draw_items(rng: random.Random, profile: _SupplierProfile, count: int, *, want_large: bool) -> list[LineItem]:
    # Distinct articles while the catalogue lasts, as on a real order; long invoices repeat.
    entries = rng.sample(profile.catalogue, min(count, len(profile.catalogue)))
    entries += [rng.choice(profile.catalogue) for _ in range(count - len(entries))]
    items = []
    for position, entry in enumerate(entries, start=1):
        quantity = Decimal(rng.choice(entry.quantities))
        items.append(LineItem(position, entry.description, quantity, entry.unit, entry.price, entry.vat_rate))
    net = sum((item.net_amount for item in items), Decimal("0"))
    if want_large and net < 1000:
        # Most real invoices we process run into four digits; make sure "1.234,56" shows up
        # by scaling the quantity of the dearest line until the total passes 1.000 EUR.
        dearest = max(items, key=lambda item: item.unit_price)
        missing = Decimal(1000) - (net - dearest.net_amount)
        quantity = (missing / dearest.unit_price).to_integral_value(rounding=ROUND_CEILING) + rng.randrange(0, 5)
        items[items.index(dearest)] = LineItem(
            dearest.position, dearest.description, quantity, dearest.unit, dearest.unit_price, dearest.vat_rate
        )
    return items
