"""German bank codes (BLZ) and their BICs: checking and repairing a BIC read from a scan.

A German IBAN carries the bank's BLZ (IBAN positions 5-12), and the Bundesbank's BLZ file gives
every BLZ exactly one BIC. So the IBAN, protected by its MOD-97 checksum, tells which BIC the
page must print. That settles what no format check can: Tesseract reads ``5``/``1``/``0`` in a
BIC's location and branch codes as ``S``/``I``/``O`` and both spellings are valid ISO 9362.

``BIC_BY_BLZ`` is a small registry, not the Bundesbank file: the banks of the suppliers the
project generates its test documents from (real BLZ/BIC pairs). A BLZ it does not list is not
checked, and a BIC is never invented from it: only a BIC read from the page is repaired.
"""

# BLZ -> BIC (11 characters). Source: the Bundesbank BLZ file entries of these banks.
BIC_BY_BLZ = {
    "10040000": "COBADEBBXXX",  # Commerzbank Berlin
    "20050550": "HASPDEHHXXX",  # Hamburger Sparkasse
    "21050170": "NOLADE21KIE",  # Förde Sparkasse
    "25050000": "NOLADE2HXXX",  # Braunschweigische Landessparkasse
    "25050180": "SPKHDE2HXXX",  # Sparkasse Hannover
    "26050001": "NOLADE21GOE",  # Sparkasse Göttingen
    "29050101": "SBREDE22XXX",  # Sparkasse Bremen
    "35050000": "DUISDE33XXX",  # Sparkasse Duisburg
    "37050198": "COLSDE33XXX",  # Sparkasse KölnBonn
    "37050299": "COKSDE33XXX",  # Kreissparkasse Köln
    "40050150": "WELADED1MST",  # Sparkasse Münsterland Ost
    "44050199": "DORTDE33XXX",  # Sparkasse Dortmund
    "48050161": "SPBIDE3BXXX",  # Sparkasse Bielefeld
    "50050201": "HELADEF1822",  # Frankfurter Sparkasse
    "51390000": "VBMHDE5FXXX",  # Volksbank Mittelhessen
    "52050353": "HELADEF1KAS",  # Kasseler Sparkasse
    "53350000": "HELADEF1MAR",  # Sparkasse Marburg-Biedenkopf
    "55050120": "MALADE51MNZ",  # Sparkasse Mainz
    "59050101": "SAKSDE55XXX",  # Sparkasse Saarbrücken
    "60050101": "SOLADEST600",  # BW-Bank
    "66050101": "KARSDE66XXX",  # Sparkasse Karlsruhe
    "67250020": "SOLADES1HDB",  # Sparkasse Heidelberg
    "68050101": "FRSPDE66XXX",  # Sparkasse Freiburg-Nördlicher Breisgau
    "70150000": "SSKMDEMMXXX",  # Stadtsparkasse München
    "75050000": "BYLADEM1RBG",  # Sparkasse Regensburg
    "76050101": "SSKNDE77XXX",  # Sparkasse Nürnberg
    "80053762": "NOLADE21HAL",  # Saalesparkasse
    "82051000": "HELADEF1WEM",  # Sparkasse Mittelthüringen
    "85050300": "OSDDDE81XXX",  # Ostsächsische Sparkasse Dresden
    "86055592": "WELADE8LXXX",  # Sparkasse Leipzig
}

# Characters Tesseract confuses in the alphanumeric part of a BIC (location and branch code).
_LOOKALIKES = {"5": "S", "S": "5", "1": "I", "I": "1", "0": "O", "O": "0", "8": "B", "B": "8", "2": "Z", "Z": "2"}


def bic_for_iban(iban: str) -> str | None:
    """The BIC the registry gives a German IBAN's BLZ; None for other countries and unknown banks."""
    iban = iban.replace(" ", "").upper()
    if not iban.startswith("DE") or len(iban) != 22:
        return None
    return BIC_BY_BLZ.get(iban[4:12])


def same_bic(left: str, right: str) -> bool:
    """Equal BICs; an 8-character BIC is the head office, the same as the 11-character form ending "XXX"."""
    return _eleven(left) == _eleven(right)


def ocr_variant_of(read: str, bic: str) -> bool:
    """Whether ``read`` is ``bic`` with OCR look-alikes swapped in the location and branch codes only.

    Bank and country code (the first six characters) are letters by definition and must match as read.
    """
    read, bic = _eleven(read), _eleven(bic)
    if len(read) != len(bic) or read[:6] != bic[:6]:
        return False
    return all(a == b or _LOOKALIKES.get(a) == b for a, b in zip(read[6:], bic[6:], strict=True))


def _eleven(bic: str) -> str:
    bic = bic.replace(" ", "").upper()
    return bic + "XXX" if len(bic) == 8 else bic
