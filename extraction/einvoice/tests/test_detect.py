import io

from pypdf import PdfReader, PdfWriter

from ablage.testing import einvoices
from ablage.testing.invoice_pdf import render_pdf
from ablage.testing.invoices import random_invoice
from ablage.testing.scans import render_scan
from extraction.einvoice import find_einvoice


def test_it_finds_the_factur_x_xml_in_a_pdf():
    spec = random_invoice(1)

    source = find_einvoice(einvoices.facturx_pdf(spec))

    assert source.container == "pdf"
    assert source.filename == "factur-x.xml"
    assert (source.syntax, source.flavour, source.level) == ("cii", "facturx", "EN16931")
    assert source.profile == einvoices.PROFILE_FACTURX_EN16931
    assert source.xml == einvoices.facturx_xml(spec)


def test_it_finds_the_zugferd1_xml_in_a_pdf():
    source = find_einvoice(einvoices.zugferd1_pdf(random_invoice(2)))

    assert (source.filename, source.syntax, source.flavour, source.level) == (
        "ZUGFeRD-invoice.xml",
        "zugferd1",
        "zugferd1",
        "COMFORT",
    )


def test_it_finds_an_attachment_listed_only_as_associated_file():
    pdf = einvoices.facturx_pdf(random_invoice(3), in_name_tree=False)
    assert PdfReader(io.BytesIO(pdf)).attachments == {}

    assert find_einvoice(pdf).filename == "factur-x.xml"


def test_it_finds_an_attachment_listed_only_in_the_embedded_files():
    pdf = einvoices.facturx_pdf(random_invoice(4), associated=False)
    assert "/AF" not in PdfReader(io.BytesIO(pdf)).root_object

    assert find_einvoice(pdf).filename == "factur-x.xml"


def test_it_finds_an_xrechnung_attached_under_its_own_name_by_its_root_element():
    spec = random_invoice(5)
    pdf = einvoices.pdf_with_attachment(render_pdf(spec), einvoices.ubl_xml(spec), "RE_2026_0815.XML")

    source = find_einvoice(pdf)

    assert (source.filename, source.syntax, source.flavour) == ("RE_2026_0815.XML", "ubl", "xrechnung")


def test_it_prefers_the_prescribed_file_name_over_other_xml_attachments():
    spec = random_invoice(6)
    pdf = einvoices.pdf_with_attachment(render_pdf(spec), einvoices.ubl_xml(spec), "kopie.xml")
    pdf = einvoices.pdf_with_attachment(pdf, einvoices.facturx_xml(spec), "Factur-X.xml")

    source = find_einvoice(pdf)

    assert (source.filename, source.syntax) == ("Factur-X.xml", "cii")


def test_it_ignores_xml_attachments_that_are_no_einvoice():
    pdf = einvoices.pdf_with_attachment(
        render_pdf(random_invoice(7)), b"<?xml version='1.0'?><note>Hallo</note>", "notiz.xml"
    )

    assert find_einvoice(pdf) is None


def test_it_returns_none_for_a_pdf_without_einvoice():
    assert find_einvoice(render_pdf(random_invoice(8))) is None


def test_it_returns_none_for_images_broken_pdfs_and_other_xml():
    spec = random_invoice(9)
    assert find_einvoice(render_scan(spec, seed=9, fmt="png")) is None
    assert find_einvoice(b"%PDF-1.7\n garbage without objects") is None
    assert find_einvoice(einvoices.facturx_pdf(spec)[:400]) is None
    assert find_einvoice(b'<?xml version="1.0"?><html><body>Rechnung</body></html>') is None
    assert find_einvoice(b"Rechnung Nr. 4711") is None
    assert find_einvoice(b"") is None


def test_it_finds_an_einvoice_in_an_encrypted_pdf_that_opens_without_password():
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(einvoices.facturx_pdf(random_invoice(10)))))
    writer.encrypt(user_password="", owner_password="geheim", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)

    source = find_einvoice(out.getvalue())

    assert source is not None and source.filename == "factur-x.xml"


def test_it_recognises_bare_xml_by_its_root_element():
    spec = random_invoice(11)
    cases = {
        einvoices.xrechnung_cii_xml(spec): ("cii", "xrechnung", "XRECHNUNG"),
        einvoices.facturx_xml(spec, profile=einvoices.PROFILE_FACTURX_BASIC): ("cii", "facturx", "BASIC"),
        einvoices.zugferd1_xml(spec): ("zugferd1", "zugferd1", "COMFORT"),
        einvoices.ubl_xml(spec): ("ubl", "xrechnung", "XRECHNUNG"),
    }
    for xml, expected in cases.items():
        source = find_einvoice(xml)
        assert (source.syntax, source.flavour, source.level) == expected
        assert (source.container, source.filename) == ("xml", "")


def test_it_recognises_xml_with_byte_order_mark_leading_blanks_or_utf16():
    xml = einvoices.facturx_xml(random_invoice(12))
    utf16 = xml.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")

    for data in (b"\xef\xbb\xbf" + xml, b"\n  " + xml, utf16):
        source = find_einvoice(data)
        assert source is not None and source.profile == einvoices.PROFILE_FACTURX_EN16931


def test_it_names_a_zugferd_2_0_profile_as_zugferd2():
    xml = einvoices.facturx_xml(random_invoice(13), profile="urn:zugferd.de:2p0:basic")

    source = find_einvoice(xml)

    assert (source.flavour, source.level) == ("zugferd2", "BASIC")
