"""Hostile XML is refused before anything is expanded, read from disk or fetched from the network."""

import socket
import sys

import pytest

from ablage.testing import einvoices
from ablage.testing.invoice_pdf import render_pdf
from ablage.testing.invoices import random_invoice
from extraction.einvoice import EInvoiceSource, find_einvoice, parse_einvoice
from ocr.errors import StopProcessing

# sys.addaudithook cannot be removed again; the hook records only while a test listens.
_listening: list[list[tuple]] = []


def _audit(event: str, args: tuple) -> None:
    if _listening and event in ("open", "socket.connect", "urllib.Request"):
        _listening[-1].append((event, args))


sys.addaudithook(_audit)


@pytest.fixture
def io_events():
    """Every file opened and every connection attempted in this process during the test."""
    events: list[tuple] = []
    _listening.append(events)
    yield events
    _listening.remove(events)


@pytest.fixture
def listening_server():
    """A local TCP port that counts connections: proof that no parser tried to fetch a DTD."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.setblocking(False)
    yield server
    server.close()


def _connections(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            connection, _address = server.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def _refusal(data: bytes) -> StopProcessing:
    source = find_einvoice(data)
    assert source is not None, "the e-invoice must be found so that it can be refused"
    with pytest.raises(StopProcessing) as caught:
        parse_einvoice(source)
    return caught.value


def test_it_refuses_entity_expansion_billion_laughs_as_hostile():
    refusal = _refusal(einvoices.billion_laughs_xml())

    assert refusal.code == "hostile_xml"
    assert "DTD oder Entity-Deklarationen" in refusal.message


def test_it_refuses_an_external_file_entity_without_reading_the_file(tmp_path, io_events):
    secret = tmp_path / "geheim.txt"
    secret.write_text("Kontostand: 1.000.000 EUR")
    data = einvoices.external_entity_xml(secret.as_uri())
    io_events.clear()  # writing the secret above is the test's own doing

    refusal = _refusal(data)

    assert refusal.code == "hostile_xml"
    assert "Kontostand" not in refusal.message
    assert not [args for event, args in io_events if event == "open" and "geheim" in str(args[0])]


def test_it_refuses_an_external_entity_for_etc_passwd(io_events):
    refusal = _refusal(einvoices.external_entity_xml("file:///etc/passwd"))

    assert refusal.code == "hostile_xml"
    assert not [args for event, args in io_events if event == "open" and "passwd" in str(args[0])]


@pytest.mark.parametrize("make", [einvoices.external_dtd_xml, einvoices.parameter_entity_xml])
def test_it_refuses_a_remote_dtd_without_connecting(make, listening_server, io_events):
    host, port = listening_server.getsockname()

    refusal = _refusal(make(f"http://{host}:{port}/rechnung.dtd"))

    assert refusal.code == "hostile_xml"
    assert _connections(listening_server) == 0
    assert not [event for event, _args in io_events if event in ("socket.connect", "urllib.Request")]


def test_it_refuses_hostile_xml_inside_a_pdf():
    pdf = einvoices.pdf_with_attachment(render_pdf(random_invoice(1)), einvoices.billion_laughs_xml(), "factur-x.xml")

    source = find_einvoice(pdf)

    assert (source.container, source.syntax) == ("pdf", "cii")
    with pytest.raises(StopProcessing) as caught:
        parse_einvoice(source)
    assert caught.value.code == "hostile_xml"


def test_it_refuses_truncated_xml_as_invalid_einvoice():
    xml = einvoices.xrechnung_cii_xml(random_invoice(2))

    refusal = _refusal(xml[: len(xml) // 2])

    assert refusal.code == "invalid_einvoice"
    assert "kein gültiges XML" in refusal.message and "Zeile" in refusal.message


def test_it_refuses_an_unreadable_attachment_under_the_prescribed_name_as_invalid_einvoice():
    pdf = einvoices.pdf_with_attachment(render_pdf(random_invoice(3)), b"\x00\x01 kein XML", "factur-x.xml")

    source = find_einvoice(pdf)

    assert (source.container, source.syntax, source.profile) == ("pdf", "", "")
    with pytest.raises(StopProcessing) as caught:
        parse_einvoice(source)
    assert caught.value.code == "invalid_einvoice"


def test_it_refuses_xml_that_is_no_einvoice():
    source = EInvoiceSource(xml=b"<note>Hallo</note>", syntax="cii", profile="", flavour="facturx", container="xml")

    with pytest.raises(StopProcessing) as caught:
        parse_einvoice(source)

    assert caught.value.code == "invalid_einvoice"
    assert "Wurzelelement „note“" in caught.value.message


def test_it_refuses_xml_over_the_size_limit_before_parsing():
    xml = einvoices.facturx_xml(random_invoice(4))
    padded = xml.replace(
        b"<rsm:ExchangedDocument>", b"<!--" + b" " * (21 * 1024 * 1024) + b"--><rsm:ExchangedDocument>"
    )

    refusal = _refusal(padded)

    assert refusal.code == "invalid_einvoice"
    assert "höchstens 20 MB" in refusal.message
