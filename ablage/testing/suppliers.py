"""The businesses that send the generated documents: letterheads, bank data and what each sells.

``CLASSIC_PROFILES`` are the seven suppliers the first three layouts (A, B, C) draw from; their
order and data are pinned because tests and benchmarks name documents by seed. ``MORE_PROFILES``
adds two dozen more trades for the newer layouts, so the labelled corpus spans 30+ suppliers. Every
USt-IdNr. carries a valid ISO 7064 check digit and every IBAN a valid MOD 97 checksum; bank codes
(BLZ) and BICs are those of real German banks, the account numbers are made up.
"""

from dataclasses import dataclass
from decimal import Decimal

from ablage.testing.german import german_iban, german_vat_id

VAT_STANDARD = Decimal("19")
VAT_REDUCED = Decimal("7")
VAT_ZERO = Decimal("0")

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
class CatalogueItem:
    description: str
    unit: str
    price: Decimal
    vat_rate: Decimal = VAT_STANDARD
    # Quantities this item is sold in; "Std." and "kg" may be fractional.
    quantities: tuple[str, ...] = ("1", "2", "3", "5", "10")


@dataclass(frozen=True)
class SupplierProfile:
    identity: SupplierIdentity
    number_format: str  # str.format with year, yy, n
    customer_format: str
    catalogue: tuple[CatalogueItem, ...]


def item(description, unit, price, vat=VAT_STANDARD, quantities=None) -> CatalogueItem:
    if quantities is None:
        quantities = {
            UNIT_HOUR: ("0.5", "1", "1.5", "2", "2.5", "4", "6.5", "8"),
            UNIT_KG: ("0.75", "2.5", "5", "12.5", "25", "40"),
        }.get(unit, ("1", "2", "3", "4", "5", "10", "12", "20"))
    return CatalogueItem(description, unit, Decimal(price), vat, tuple(quantities))


def supplier(
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
CLASSIC_PROFILES: tuple[SupplierProfile, ...] = (
    SupplierProfile(
        identity=supplier(
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
            item("Kopierpapier A4, 80 g/m², 500 Blatt", UNIT_PIECE, "4.49", quantities=("10", "25", "50", "100")),
            item("Ordner breit, Rückenschild weiß", UNIT_PIECE, "2.79", quantities=("10", "20", "50")),
            item("Kugelschreiber blau, Großpackung (50 Stück)", UNIT_PIECE, "24.90"),
            item("Bürodrehstuhl „Ergo Plus“ mit Armlehnen", UNIT_PIECE, "389.00", quantities=("1", "2", "4")),
            item("Schreibtisch höhenverstellbar, 160 × 80 cm", UNIT_PIECE, "649.00", quantities=("1", "2", "3")),
            item("Tonerkartusche schwarz für Laserdrucker", UNIT_PIECE, "89.90"),
            item("Heftgerät für Stöße bis 40 Blatt", UNIT_PIECE, "17.45"),
            item("Fachbuch „Umsatzsteuer für Büroprofis“", UNIT_PIECE, "39.80", VAT_REDUCED, ("1", "2", "5")),
        ),
    ),
    SupplierProfile(
        identity=supplier(
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
            item("Arbeitszeit Elektromeister", UNIT_HOUR, "68.00"),
            item("Arbeitszeit Geselle", UNIT_HOUR, "54.00"),
            item("Installationskabel NYM-J 3×1,5 mm², Ring 50 m", UNIT_PIECE, "42.90", quantities=("1", "2", "4")),
            item("Steckdose Unterputz, reinweiß", UNIT_PIECE, "6.90"),
            item("Fehlerstromschutzschalter 40 A / 30 mA", UNIT_PIECE, "48.50", quantities=("1", "2", "3")),
            item("LED-Außenleuchte mit Bewegungsmelder", UNIT_PIECE, "79.00"),
            item("Unterverteilung 3-reihig, komplett bestückt", UNIT_PIECE, "1185.00", quantities=("1",)),
            item("Anfahrtspauschale Großraum München", UNIT_PIECE, "35.00", quantities=("1", "2")),
        ),
    ),
    SupplierProfile(
        identity=supplier(
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
            item("Brötchen, gemischt", UNIT_PIECE, "0.45", VAT_REDUCED, ("40", "80", "120", "250", "600")),
            item("Butterkuchen vom Blech", UNIT_KG, "12.80", VAT_REDUCED),
            item("Vollkornbrot, 1 kg", UNIT_PIECE, "4.20", VAT_REDUCED),
            item("Käsekuchen, ganz (16 Stück)", UNIT_PIECE, "24.50", VAT_REDUCED),
            item("Mohnstriezel nach Großmutters Art", UNIT_PIECE, "6.80", VAT_REDUCED),
            item("Kaffee in Thermoskannen, Ausschank", UNIT_PIECE, "18.00", VAT_STANDARD),
            item("Lieferung und Aufbau Frühstücksbuffet", UNIT_PIECE, "45.00", VAT_STANDARD, ("1",)),
            item("Catering-Personal", UNIT_HOUR, "32.00", VAT_STANDARD),
        ),
    ),
    SupplierProfile(
        identity=supplier(
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
            item("Rasenpflege inkl. Vertikutieren", UNIT_HOUR, "52.00"),
            item("Heckenschnitt, Entsorgung des Grünschnitts", UNIT_HOUR, "48.00"),
            item("Rindenmulch, lose", UNIT_KG, "0.38", quantities=("250", "500", "1200")),
            item("Pflanzerde torffrei", UNIT_KG, "0.55", quantities=("100", "300", "750")),
            item("Obstbaum Hochstamm, Sorte „Boskoop“", UNIT_PIECE, "89.00", VAT_REDUCED, ("1", "2", "3")),
            item("Staudenmischung für Schattenbeete", UNIT_PIECE, "7.90", VAT_REDUCED),
            item("Pflasterarbeiten Zufahrt, Granit", UNIT_HOUR, "58.00"),
            item("Minibagger mit Fahrer, Tagessatz", UNIT_PIECE, "690.00", quantities=("1", "2")),
        ),
    ),
    SupplierProfile(
        identity=supplier(
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
            item("IT-Support vor Ort", UNIT_HOUR, "95.00"),
            item("Einrichtung Firewall und VPN-Zugänge", UNIT_HOUR, "110.00"),
            item("Notebook 14 Zoll mit Dockingstation", UNIT_PIECE, "1299.00", quantities=("1", "2", "3")),
            item("Office-Paket Business, Jahreslizenz", UNIT_PIECE, "149.40"),
            item("Netzwerk-Switch 24 Port, verwaltet", UNIT_PIECE, "289.00", quantities=("1", "2")),
            item("Datensicherung, Wartungspauschale monatlich", UNIT_PIECE, "79.00", quantities=("1", "3", "12")),
            item("Schulung „Datenschutz im Büroalltag“", UNIT_HOUR, "85.00"),
        ),
    ),
    SupplierProfile(
        identity=supplier(
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
            item("Visitenkarten 4/4-farbig, 500 Stück", UNIT_PIECE, "49.00"),
            item("Flyer DIN lang, 5.000 Stück", UNIT_PIECE, "289.00", quantities=("1", "2", "4")),
            item("Briefbogen mit Logo, 1.000 Blatt", UNIT_PIECE, "119.00"),
            item("Broschüre „Jahresbericht“, 48 Seiten", UNIT_PIECE, "3.85", VAT_REDUCED, ("250", "500", "1000")),
            item("Satz- und Gestaltungsarbeiten", UNIT_HOUR, "72.00"),
            item("Großformatdruck Messewand, 3 × 2,25 m", UNIT_PIECE, "1460.00", quantities=("1",)),
        ),
    ),
    SupplierProfile(
        identity=supplier(
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
            item("Mineralwasser still, Kasten 12 × 1,0 l", UNIT_PIECE, "6.99", quantities=("10", "20", "40", "80")),
            item("Apfelsaftschorle, Kasten 12 × 0,5 l", UNIT_PIECE, "9.49", quantities=("5", "10", "25")),
            item("Kaffeebohnen Espresso, fair gehandelt", UNIT_KG, "18.90", VAT_REDUCED, ("2", "5", "10", "20")),
            item("Frischmilch 3,5 % Fett, 1 l", UNIT_PIECE, "1.19", VAT_REDUCED, ("12", "24", "60")),
            item("Orangensaft Direktsaft, Kasten 6 × 1,0 l", UNIT_PIECE, "14.90"),
            item("Zapfanlage Miete inkl. Reinigung", UNIT_PIECE, "95.00", quantities=("1", "2")),
        ),
    ),
)


# Trades of the newer suppliers; several suppliers share a trade, as competitors do.
_CATALOGUES: dict[str, tuple[CatalogueItem, ...]] = {
    "sanitaer": (
        item("Monteurstunde Sanitär", UNIT_HOUR, "62.00"),
        item("Helferstunde", UNIT_HOUR, "45.00"),
        item("Waschtischarmatur Einhebelmischer", UNIT_PIECE, "148.00", quantities=("1", "2", "3")),
        item("Kupferrohr 15 mm, Stange 5 m", UNIT_PIECE, "38.60", quantities=("2", "4", "6")),
        item("Wartung Gasbrennwertkessel", UNIT_PIECE, "189.00", quantities=("1",)),
        item("Kleinmaterial pauschal", UNIT_PIECE, "24.50", quantities=("1",)),
    ),
    "solar": (
        item("Photovoltaikmodul 430 Wp (§ 12 Abs. 3 UStG)", UNIT_PIECE, "189.00", VAT_ZERO, ("10", "14", "20")),
        item("Wechselrichter 10 kW (§ 12 Abs. 3 UStG)", UNIT_PIECE, "1590.00", VAT_ZERO, ("1",)),
        item("Batteriespeicher 10 kWh (§ 12 Abs. 3 UStG)", UNIT_PIECE, "4890.00", VAT_ZERO, ("1",)),
        item("Montagesystem Schrägdach", UNIT_PIECE, "34.00", VAT_ZERO, ("10", "14", "20")),
        item("Zählerschrank-Umbau", UNIT_PIECE, "980.00", quantities=("1",)),
        item("Gerüststellung", UNIT_PIECE, "640.00", quantities=("1",)),
    ),
    "reinigung": (
        item("Unterhaltsreinigung Büroflächen", UNIT_HOUR, "29.50", quantities=("20", "40", "60", "86")),
        item("Glasreinigung innen und außen", UNIT_HOUR, "34.00", quantities=("4", "6", "8")),
        item("Grundreinigung Teppichboden", UNIT_PIECE, "3.20", quantities=("120", "250", "400")),
        item("Hygieneartikel Nachfüllung", UNIT_PIECE, "68.00", quantities=("1", "2", "3")),
        item("Winterdienst Pauschale", UNIT_PIECE, "220.00", quantities=("1",)),
    ),
    "software": (
        item("Softwareentwicklung Senior", UNIT_HOUR, "125.00", quantities=("4", "8", "16", "24", "40")),
        item("Projektmanagement", UNIT_HOUR, "110.00", quantities=("2", "4", "8")),
        item("Hosting Business, monatlich", UNIT_PIECE, "89.00", quantities=("1", "3", "12")),
        item("SSL-Zertifikat, Jahreslaufzeit", UNIT_PIECE, "49.00", quantities=("1", "2")),
        item("Fachbuch „Python für Profis“", UNIT_PIECE, "44.90", VAT_REDUCED, ("1", "2", "3")),
    ),
    "bau": (
        item("Maurerarbeiten", UNIT_HOUR, "56.00", quantities=("8", "16", "24", "40")),
        item("Transportbeton C25/30", UNIT_PIECE, "142.00", quantities=("2", "4", "6")),
        item("Container 7 m³ inkl. Entsorgung", UNIT_PIECE, "395.00", quantities=("1", "2")),
        item("Kalksandstein 24 cm", UNIT_PIECE, "2.85", quantities=("200", "400", "600")),
        item("Baustelleneinrichtung", UNIT_PIECE, "850.00", quantities=("1",)),
    ),
    "catering": (
        item("Mittagsbuffet pro Person", UNIT_PIECE, "18.50", VAT_STANDARD, ("12", "20", "35", "50")),
        item("Kuchenplatte, 20 Stück", UNIT_PIECE, "32.00", VAT_REDUCED, ("1", "2", "4")),
        item("Belegte Brötchen", UNIT_PIECE, "2.40", VAT_REDUCED, ("20", "40", "60")),
        item("Servicekraft", UNIT_HOUR, "29.00", VAT_STANDARD, ("4", "8", "12")),
        item("Getränkepauschale", UNIT_PIECE, "6.50", VAT_STANDARD, ("12", "20", "35")),
    ),
    "logistik": (
        item("Stückguttransport Palette", UNIT_PIECE, "68.00", quantities=("1", "2", "4", "8")),
        item("Expresszuschlag", UNIT_PIECE, "45.00", quantities=("1",)),
        item("Lagerung pro Palettenplatz, monatlich", UNIT_PIECE, "12.90", quantities=("10", "20", "40")),
        item("Kommissionierung", UNIT_HOUR, "38.00", quantities=("2", "4", "8")),
        item("Verzollung, Auslagen (durchlaufender Posten)", UNIT_PIECE, "85.00", VAT_ZERO, ("1",)),
    ),
    "werbung": (
        item("Konzeption Kampagne", UNIT_HOUR, "95.00", quantities=("4", "8", "12")),
        item("Gestaltung Anzeige", UNIT_PIECE, "380.00", quantities=("1", "2")),
        item("Fotoshooting Tagessatz", UNIT_PIECE, "1150.00", quantities=("1",)),
        item("Bildlizenz, einmalig", UNIT_PIECE, "120.00", VAT_REDUCED, ("1", "2", "3")),
        item("Druckdaten-Aufbereitung", UNIT_HOUR, "68.00", quantities=("1", "2", "3")),
    ),
    "labor": (
        item("Einmalhandschuhe Nitril, Box 100", UNIT_PIECE, "7.90", quantities=("10", "20", "50")),
        item("Pipettenspitzen 200 µl, Rack", UNIT_PIECE, "14.50", quantities=("5", "10", "20")),
        item("Zentrifugenröhrchen 50 ml, 500 Stück", UNIT_PIECE, "89.00", quantities=("1", "2", "4")),
        item("Ethanol 70 %, 5 l", UNIT_PIECE, "24.80", quantities=("2", "4", "6")),
        item("Fachzeitschrift Jahresabo", UNIT_PIECE, "129.00", VAT_REDUCED, ("1",)),
    ),
    "kfz": (
        item("Inspektion nach Herstellervorgabe", UNIT_PIECE, "289.00", quantities=("1",)),
        item("Bremsbeläge vorn, Satz", UNIT_PIECE, "96.50", quantities=("1", "2")),
        item("Arbeitswert Mechanik", UNIT_HOUR, "98.00", quantities=("0.5", "1", "1.5", "2.5")),
        item("Motoröl 5W-30", UNIT_PIECE, "14.90", quantities=("4", "5")),
        item("Hauptuntersuchung (Fremdleistung, durchlaufender Posten)", UNIT_PIECE, "149.00", VAT_ZERO, ("1",)),
    ),
    "moebel": (
        item("Schreibtisch 180 × 80 cm, Eiche", UNIT_PIECE, "729.00", quantities=("1", "2", "4")),
        item("Rollcontainer abschließbar", UNIT_PIECE, "219.00", quantities=("1", "2", "4")),
        item("Aktenschrank 5 OH", UNIT_PIECE, "489.00", quantities=("1", "2")),
        item("Montage und Lieferung", UNIT_PIECE, "160.00", quantities=("1",)),
        item("Akustikpaneel 120 × 60 cm", UNIT_PIECE, "89.00", quantities=("4", "6", "10")),
    ),
    "uebersetzung": (
        item("Fachübersetzung Deutsch–Englisch, Normzeile", UNIT_PIECE, "1.85", quantities=("120", "300", "640")),
        item("Lektorat", UNIT_HOUR, "58.00", quantities=("1", "2", "4")),
        item("Beglaubigung", UNIT_PIECE, "25.00", quantities=("1", "2", "3")),
        item("Eilzuschlag", UNIT_PIECE, "60.00", quantities=("1",)),
    ),
}

# name, street, postal code, city, VAT digits, Steuernummer, bank, BLZ, BIC, account, trade, number format
_MORE = (
    ("Schneider Haustechnik GmbH", "Ringstraße 5", "28195", "Bremen", "38475610", "60/145/12345",
     "Sparkasse Bremen", "29050101", "SBREDE22XXX", "1234567801", "sanitaer", "HT-{year}-{n:04d}"),
    ("Hartmann Solar GmbH", "Sonnenweg 3", "79098", "Freiburg im Breisgau", "14286305", "06469/12345",
     "Sparkasse Freiburg-Nördlicher Breisgau", "68050101", "FRSPDE66XXX", "2345678902", "solar", "PV{yy}-{n:05d}"),
    ("Werner Gebäudeservice GmbH", "Lindenallee 19", "44135", "Dortmund", "12058392", "314/5704/2211",
     "Sparkasse Dortmund", "44050199", "DORTDE33XXX", "3456789003", "reinigung", "GS{year}{n:05d}"),
    ("Wolf Softwareentwicklung GmbH", "Speicherstadt 8", "20457", "Hamburg", "31846270", "48/766/01234",
     "Hamburger Sparkasse", "20050550", "HASPDEHHXXX", "4567890104", "software", "INV-{year}-{n:04d}"),
    ("Schäfer Bauunternehmung GmbH & Co. KG", "Am Steinbruch 2", "34117", "Kassel", "26583014", "026 229 34567",
     "Kasseler Sparkasse", "52050353", "HELADEF1KAS", "5678901205", "bau", "B-{n:06d}"),
    ("Koch Catering GmbH", "Feldstraße 77", "30159", "Hannover", "19475820", "25/206/12345",
     "Sparkasse Hannover", "25050180", "SPKHDE2HXXX", "6789012306", "catering", "C{year}-{n:04d}"),
    ("Richter Logistik GmbH", "Hafenweg 40", "47119", "Duisburg", "21039485", "134/5700/9876",
     "Sparkasse Duisburg", "35050000", "DUISDE33XXX", "7890123407", "logistik", "RL{yy}{n:06d}"),
    ("Jung Werbeagentur GmbH", "Kaiserstraße 12", "60311", "Frankfurt am Main", "29384756", "045 228 12345",
     "Frankfurter Sparkasse", "50050201", "HELADEF1822", "8901234508", "werbung", "WA-{year}/{n:03d}"),
    ("Hahn Laborbedarf GmbH", "Forschungsallee 4", "69120", "Heidelberg", "17364528", "32070/12345",
     "Sparkasse Heidelberg", "67250020", "SOLADES1HDB", "9012345609", "labor", "LB{n:07d}"),
    ("Schmitt Kfz-Technik e.K.", "Werkstraße 11", "66111", "Saarbrücken", "13579246", "040/123/45678",
     "Sparkasse Saarbrücken", "59050101", "SAKSDE55XXX", "1122334410", "kfz", "W{year}{n:04d}"),
    ("Lange Büromöbel GmbH", "Möbelring 6", "33602", "Bielefeld", "24681357", "349/5712/3456",
     "Sparkasse Bielefeld", "48050161", "SPBIDE3BXXX", "2233445511", "moebel", "LM-{n:05d}"),
    ("Vogel Übersetzungen e.K.", "Domplatz 3", "48143", "Münster", "35792468", "336/5010/1234",
     "Sparkasse Münsterland Ost", "40050150", "WELADED1MST", "3344556612", "uebersetzung", "UE{year}-{n:03d}"),
    ("Zimmermann Sanitär GmbH", "Brunnengasse 14", "90402", "Nürnberg", "16273849", "241/123/45678",
     "Sparkasse Nürnberg", "76050101", "SSKNDE77XXX", "4455667713", "sanitaer", "Z-{year}-{n:05d}"),
    ("Braun Medientechnik AG", "Studioweg 9", "50968", "Köln", "27384950", "218/5780/4567",
     "Kreissparkasse Köln", "37050299", "COKSDE33XXX", "5566778814", "werbung", "BMT{year}{n:05d}"),
    ("Neumann Reinigungsdienste GmbH", "Gartenstraße 31", "04109", "Leipzig", "28495061", "231/112/34567",
     "Sparkasse Leipzig", "86055592", "WELADE8LXXX", "6677889915", "reinigung", "NR-{n:06d}"),
    ("Fischer Spedition GmbH & Co. KG", "Logistikpark 1", "93055", "Regensburg", "22334455", "244/123/45678",
     "Sparkasse Regensburg", "75050000", "BYLADEM1RBG", "7788990016", "logistik", "FS{yy}-{n:05d}"),
    ("Keller Datentechnik UG (haftungsbeschränkt)", "Technologiepark 22", "76131", "Karlsruhe", "33445566",
     "35001/23456", "Sparkasse Karlsruhe", "66050101", "KARSDE66XXX", "8899001117", "software", "KD{year}{n:04d}"),
    ("Roth Bau GmbH", "Industriering 45", "55116", "Mainz", "44556677", "26/123/45678",
     "Sparkasse Mainz", "55050120", "MALADE51MNZ", "9900112218", "bau", "RB-{year}-{n:04d}"),
    ("Friedrich Gastro-Service GmbH", "Am Markt 8", "99084", "Erfurt", "55667788", "151/123/45678",
     "Sparkasse Mittelthüringen", "82051000", "HELADEF1WEM", "1357913519", "catering", "FG{n:06d}"),
    ("Lorenz Autoteile GmbH", "Gewerbestraße 3", "38100", "Braunschweig", "66778899", "14/201/12345",
     "Braunschweigische Landessparkasse", "25050000", "NOLADE2HXXX", "2468024620", "kfz", "AT-{year}-{n:05d}"),
    ("Sonnenkraft Energiesysteme GmbH", "Energiepark 12", "06108", "Halle (Saale)", "77889900", "110/123/45678",
     "Saalesparkasse", "80053762", "NOLADE21HAL", "3692581421", "solar", "SK{year}-{n:04d}"),
    ("Engel Labortechnik GmbH", "Campus 5", "37073", "Göttingen", "88990011", "20/205/12345",
     "Sparkasse Göttingen", "26050001", "NOLADE21GOE", "4826048222", "labor", "EL{yy}{n:05d}"),
    ("Peters Objekteinrichtung GmbH", "Holzweg 16", "24103", "Kiel", "99001122", "20/290/12345",
     "Förde Sparkasse", "21050170", "NOLADE21KIE", "5937159323", "moebel", "PO{year}/{n:04d}"),
    ("Sprachwerk Köhler GmbH", "Universitätsstraße 2", "35037", "Marburg", "10293847", "031 234 56789",
     "Sparkasse Marburg-Biedenkopf", "53350000", "HELADEF1MAR", "6048260424", "uebersetzung", "SW-{n:05d}"),
    ("Bergmann IT-Solutions GmbH", "Innovationsweg 7", "01069", "Dresden", "56473829", "203/112/34567",
     "Ostsächsische Sparkasse Dresden", "85050300", "OSDDDE81XXX", "7159371525", "software", "BIT-{year}-{n:05d}"),
)  # fmt: skip


def _more_profile(entry: tuple) -> SupplierProfile:
    name, street, postal_code, city, vat8, tax_number, bank, blz, bic, account, trade, number_format = entry
    slug = name.split()[0].lower().translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}))
    identity = supplier(
        name, street, postal_code, city, vat8=vat8, tax_number=tax_number, bank=bank, blz=blz, account=account,
        bic=bic, phone=f"0{blz[:3]} {account[-6:-3]} {account[-3:]}", email=f"rechnung@{slug}.example.de",
        director=f"Geschäftsführung {name.split()[0]}", register=f"Amtsgericht {city.split()[0]} HRB {vat8[-5:]}",
    )  # fmt: skip
    return SupplierProfile(identity, number_format, "KD{n:05d}", _CATALOGUES[trade])


MORE_PROFILES: tuple[SupplierProfile, ...] = tuple(_more_profile(entry) for entry in _MORE)
ALL_PROFILES: tuple[SupplierProfile, ...] = CLASSIC_PROFILES + MORE_PROFILES


def master_data_lookup(result, text: str):
    """The generated suppliers as supplier master data, for runs without a database (the benchmark).

    Identifiers only, exactly as ``suppliers.matching`` ranks them: the USt-IdNr. first, then the IBAN;
    when both are read and belong to different suppliers, the IBAN is a conflict. No name matching:
    what a misread identifier cannot confirm stays unconfirmed, as it would for an unknown sender.
    ``text`` is unused: the signature is ``ocr.pipeline.SupplierLookup``.
    """
    from extraction.types import SupplierEvidence

    read = {name: value.normalized for name, value in result.fields.items()}
    by_vat_id = next((p.identity for p in ALL_PROFILES if p.identity.vat_id == read.get("supplier_vat_id")), None)
    by_iban = next((p.identity for p in ALL_PROFILES if p.identity.iban == read.get("iban")), None)
    if by_vat_id is not None:
        conflicts = ("iban",) if by_iban is not None and by_iban != by_vat_id else ()
        return SupplierEvidence(name=by_vat_id.name, rule="vat_id", confidence=1.0, conflicts=conflicts)
    if by_iban is not None:
        return SupplierEvidence(name=by_iban.name, rule="iban", confidence=1.0)
    return None
