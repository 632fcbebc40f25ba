"""The sample generator (ablage.testing.einvoices) makes what the standards describe."""

import io
from dataclasses import replace

import pytest
from pypdf import PdfReader

from ablage.testing import einvoices
from ablage.testing.invoices import CREDIT_NOTE, DELIVERY_NOTE, LETTER, Address, random_invoice


def test_it_attaches_the_xml_as_an_alternative_associated_file_with_factur_x_metadata():
    spec = random_invoice(1)
    reader = PdfReader(io.BytesIO(einvoices.facturx_pdf(spec)))

    spec_dict = reader.root_object["/AF"][0].get_object()

    assert spec_dict["/AFRelationship"] == "/Alternative"
    assert spec_dict["/UF"] == spec_dict["/F"] == "factur-x.xml"
    assert spec_dict["/EF"]["/F"].get_object()["/Subtype"] == "/text#2Fxml"
    assert reader.attachments["factur-x.xml"] == [einvoices.facturx_xml(spec)]
    xmp = reader.root_object["/Metadata"].get_object().get_data().decode()
    assert "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert len(reader.pages) >= 1


def test_it_makes_a_ubl_credit_note_with_credit_note_lines_and_a_billing_reference():
    spec = random_invoice(2, document_type=CREDIT_NOTE)

    xml = einvoices.ubl_xml(spec).decode()

    assert "<CreditNote xmlns=" in xml and "<cbc:CreditNoteTypeCode>381<" in xml
    assert xml.count("<cac:CreditNoteLine>") == len(spec.line_items)
    assert f"<cbc:ID>{spec.reference_invoice_number}</cbc:ID>" in xml
    assert "<cbc:DueDate>" not in xml


def test_it_writes_a_leitweg_id_with_valid_check_digits():
    leitweg = einvoices.leitweg_id(random_invoice(3))
    coarse, fine, check = leitweg.split("-")

    numeric = "".join(str(int(char, 36)) for char in coarse + fine) + check

    assert int(numeric) % 97 == 1


@pytest.mark.parametrize("document_type", [DELIVERY_NOTE, LETTER])
def test_it_refuses_documents_that_are_no_invoices(document_type):
    spec = random_invoice(4, document_type=document_type)

    with pytest.raises(ValueError, match="nur für Rechnungen und Gutschriften"):
        einvoices.cii_xml(spec)


def test_it_escapes_text_that_looks_like_markup():
    spec = random_invoice(5)
    spec = replace(spec, recipient=Address("Müller & <Söhne>", "Weg 1", "12345", "Ort"))

    xml = einvoices.ubl_xml(spec)

    assert b"M\xc3\xbcller &amp; &lt;S\xc3\xb6hne&gt;" in xml
