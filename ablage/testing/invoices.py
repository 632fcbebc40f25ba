"""German invoice test data with ground truth, made by code and reproducible from a seed.

``random_invoice(seed)`` draws an :class:`InvoiceSpec` (supplier, recipient, numbers, dates,
line items); ``render_pdf(spec)`` prints it born-digital in one of nine layouts (the classic
A-C in ``invoice_pdf``, D-I in ``styled_layouts``; H and I are held out from rule tuning) and
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

from ablage.testing.german import money, normalise_amount
from ablage.testing.invoice_pdf import LAYOUTS, render_pdf
from ablage.testing.scans import SCAN_FORMATS, render_scan
from ablage.testing.styled_layouts import ALL_LAYOUTS, HELD_OUT_LAYOUTS, TUNING_LAYOUTS, offers_skonto
from ablage.testing.suppliers import (
    ALL_PROFILES,
    CLASSIC_PROFILES,
    VAT_REDUCED,
    VAT_STANDARD,
    Address,
    SupplierIdentity,
    SupplierProfile,
)

__all__ = [
    "ALL_LAYOUTS",
    "DOCUMENT_TYPES",
    "HELD_OUT_LAYOUTS",
    "LAYOUTS",
    "SCAN_FORMATS",
    "TUNING_LAYOUTS",
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

__all__ += ["VAT_REDUCED", "VAT_STANDARD"]


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
    and credit notes. Amounts of a credit note (Gutschrift) are reported positive, the document
    type says which way the money flows; some layouts print them with a minus sign, as a
    Stornorechnung does. When ``due_date_printed`` is false the document only says "Zahlbar
    innerhalb N Tagen ohne Abzug" and the ground-truth due date is the one a reader works out from
    it. ``skonto_rate``/``skonto_days`` describe a cash discount printed in the payment terms
    ("bei Zahlung innerhalb 10 Tagen 2 % Skonto"); the due date stays the net term.
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
    skonto_rate: Decimal | None = None
    skonto_days: int | None = None

    @property
    def held_out(self) -> bool:
        """Layouts kept away from rule tuning; benchmarks report them on their own."""
        return self.layout in HELD_OUT_LAYOUTS

    @property
    def skonto_amount(self) -> Decimal | None:
        if self.skonto_rate is None:
            return None
        return money(self.total_amount * self.skonto_rate / 100)

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
        # Layout B prints IBAN and BIC only in the payment box beside the totals; every newer
        # layout prints them in the footer of every page.
        return self.layout != "B" or self.is_billing

    @property
    def prints_customer_number(self) -> bool:
        # Only layout A's letter has an info block; the other letters show just the date.
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
            "skonto_rate": format(self.skonto_rate.normalize(), "f") if self.skonto_rate is not None else None,
            "skonto_days": self.skonto_days,
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


SUPPLIERS: tuple[SupplierIdentity, ...] = tuple(profile.identity for profile in ALL_PROFILES)

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


# (rate in %, days): "bei Zahlung innerhalb 10 Tagen 2 % Skonto".
_SKONTO_TERMS = ((Decimal("2"), 10), (Decimal("3"), 7), (Decimal("2"), 14), (Decimal("1.5"), 8))


def random_invoice(
    seed: int, *, layout: str | None = None, document_type: str = INVOICE, item_count: int | None = None
) -> InvoiceSpec:
    """Draw one document deterministically from ``seed``.

    ``layout`` is one of ``ALL_LAYOUTS`` (drawn from the classic "A", "B", "C" when None);
    ``item_count`` forces the number of line items (e.g. 40 for a multi-page invoice), otherwise
    1-8 and now and then enough to run onto a second page.

    The classic layouts draw from the seven classic suppliers with exactly the random sequence
    they always had, so documents named by seed stay the same; the newer layouts draw from all
    suppliers, and what only they print (Skonto terms) comes from a second generator.
    """
    if layout is not None and layout not in ALL_LAYOUTS:
        raise ValueError(f"Unbekanntes Layout {layout!r}; erlaubt sind {', '.join(ALL_LAYOUTS)}.")
    if document_type not in DOCUMENT_TYPES:
        raise ValueError(f"Unbekannter Dokumenttyp {document_type!r}; erlaubt sind {', '.join(DOCUMENT_TYPES)}.")
    if item_count is not None and not 1 <= item_count <= 200:
        raise ValueError(f"item_count muss zwischen 1 und 200 liegen, nicht {item_count}.")

    # Test data, not secrets; a string seed hashes with SHA-512 inside random.Random, so the
    # sequence does not depend on PYTHONHASHSEED.
    rng = random.Random(f"ablage-invoice:{seed}")  # noqa: S311
    profile = rng.choice(CLASSIC_PROFILES if layout is None or layout in LAYOUTS else ALL_PROFILES)
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
    skonto_rate = skonto_days = None
    extra = random.Random(f"ablage-invoice-extra:{seed}")  # noqa: S311
    if document_type == INVOICE and offers_skonto(layout) and extra.random() < 0.6:
        skonto_rate, skonto_days = extra.choice(_SKONTO_TERMS)

    spec = InvoiceSpec(
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
        skonto_rate=skonto_rate,
        skonto_days=skonto_days,
    )
    if skonto_days is not None and spec.payment_days <= skonto_days:
        # A discount for paying early only makes sense before the net term ends.
        spec.payment_days = 30
    return spec


def _draw_items(rng: random.Random, profile: SupplierProfile, count: int, *, want_large: bool) -> list[LineItem]:
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
