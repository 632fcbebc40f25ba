"""Property-based tests of the input boundary: whatever bytes, names and XML arrive, Ablage answers
with a declared refusal and a reason a clerk can read, never a crash, and in bounded time.

Declared exceptions per entry point:
- ``clean_filename``, ``sniff``, ``parse_date``, ``parse_amount``: none (a value or None);
- ``normalize_field``: ``ValueError`` with the reason;
- e-invoice reader (``find_einvoice`` + ``parse_einvoice``): ``StopProcessing`` with a code;
- upload check (sniffer, PDF/image preflight, e-invoice check): ``ApplicationError``, 4xx;
- the upload API: 202 or a 4xx JSON error with code and message, never 5xx.

``deadline`` bounds each input's time; the seeds below are real invoices, so the mutations
reach deep into the PDF and XML readers instead of stopping at the first byte.
"""

import datetime
import re
from decimal import Decimal
from functools import cache

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ablage.errors import ApplicationError
from documents.ingest import clean_filename, upload_validate
from extraction.normalize import normalize_field, parse_amount, parse_date
from ocr.errors import StopProcessing
from ocr.filetypes import SUPPORTED, sniff

FAST = settings(max_examples=300, deadline=datetime.timedelta(milliseconds=500))
# Parsing a mutated PDF or XML may render a page or walk a tree: more time, fewer examples.
SLOW = settings(max_examples=60, deadline=datetime.timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow])


@cache
def _seed_files() -> dict[str, bytes]:
    from ablage.testing.einvoices import facturx_pdf, ubl_xml, xrechnung_cii_xml, zugferd1_xml
    from ablage.testing.invoice_pdf import render_pdf
    from ablage.testing.invoices import random_invoice

    spec = random_invoice(42, layout="A")
    return {
        "rechnung.pdf": render_pdf(spec, "A"),
        "xrechnung.xml": xrechnung_cii_xml(spec),
        "ubl.xml": ubl_xml(spec),
        "zugferd1.xml": zugferd1_xml(spec),
        "facturx.pdf": facturx_pdf(spec),
    }


@st.composite
def mutated_seed(draw):
    """A real invoice file, cut, overwritten or spliced at random places."""
    name = draw(st.sampled_from(sorted(_seed_files())))
    data = bytearray(_seed_files()[name])
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["cut", "overwrite", "insert", "truncate"]))
        chunk = draw(st.binary(min_size=1, max_size=64))
        if operation == "cut":
            del data[position : position + len(chunk)]
        elif operation == "overwrite":
            data[position : position + len(chunk)] = chunk
        elif operation == "insert":
            data[position:position] = chunk
        else:
            del data[position:]
    return name, bytes(data)


hostile_xml_fragments = st.sampled_from(
    [
        b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>',
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>',
        b"<r>" * 2000,
        b"<?xml version='1.0' encoding='utf-32'?><r/>",
        b"\xef\xbb\xbf<?xml version='1.0'?><Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>",
    ]
)


# --- names and first bytes ---------------------------------------------------------------------


@FAST
@given(st.text(max_size=400))
@example("../../etc/passwd")
@example("C:\\Windows\\system32\\CON.pdf")
@example("\x00\u202e.pdf")
@example(" . ")
def test_it_makes_every_filename_a_safe_single_name(name):
    cleaned = clean_filename(name)
    assert cleaned and len(cleaned) <= 200
    assert "/" not in cleaned and "\\" not in cleaned and cleaned not in (".", "..")
    assert all(character.isprintable() and character not in '<>:"|?*' for character in cleaned)
    assert cleaned == cleaned.strip(" .") or cleaned.startswith("_")
    assert clean_filename(cleaned) == cleaned  # stable: storing and showing it again changes nothing


@FAST
@given(st.binary(max_size=2048))
def test_it_sniffs_any_bytes_to_a_supported_type_or_none(head):
    assert sniff(head) in (*SUPPORTED, None)


# --- amounts, dates, fields a clerk types -------------------------------------------------------


german_amounts = st.builds(
    lambda euros, cents, grouped: (f"{euros:,}".replace(",", ".") if grouped else str(euros)) + f",{cents:02d}",
    st.integers(0, 10**9),
    st.integers(0, 99),
    st.booleans(),
)


@FAST
@given(st.one_of(st.text(max_size=80), german_amounts, st.from_regex(r"-?[0-9.,' ]{1,20} ?(€|EUR)?", fullmatch=True)))
def test_it_reads_an_amount_or_says_it_cannot(text):
    value = parse_amount(text)
    assert value is None or isinstance(value, Decimal)


@FAST
@given(german_amounts)
def test_it_reads_german_amounts_exactly(text):
    expected = Decimal(text.replace(".", "").replace(",", "."))
    assert parse_amount(text) == expected


@FAST
@given(st.one_of(st.text(max_size=60), st.dates().map(lambda day: day.strftime("%d.%m.%Y"))))
def test_it_reads_a_date_or_says_it_cannot(text):
    value = parse_date(text)
    assert value is None or isinstance(value, datetime.date)


@FAST
@given(st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2199, 12, 31)))
def test_it_reads_german_dates_exactly(day):
    assert parse_date(day.strftime("%d.%m.%Y")) == day


FIELD_NAMES = [
    "invoice_date",
    "due_date",
    "total_amount",
    "net_amount",
    "iban",
    "vat_id",
    "bic",
    "currency",
    "vat_rate",
]


@FAST
@given(st.sampled_from(FIELD_NAMES), st.text(max_size=60))
@example("total_amount", "100000000000000000000000000")  # quantize() raised InvalidOperation on it
def test_it_normalizes_a_typed_field_or_refuses_it_with_a_reason(name, raw):
    try:
        assert isinstance(normalize_field(name, raw), str)
    except ValueError as refusal:
        assert str(refusal).strip()


# --- e-invoice XML -----------------------------------------------------------------------------


@SLOW
@given(st.one_of(mutated_seed().map(lambda pair: pair[1]), hostile_xml_fragments, st.binary(max_size=512)))
@example(b"<?xml version='1.0' encoding='utf-32'?><r/>")  # pyexpat raised ValueError on it
def test_it_reads_an_einvoice_or_refuses_it_with_a_code(data):
    from extraction.einvoice import find_einvoice, parse_einvoice

    try:
        source = find_einvoice(data)
        if source is not None:
            parse_einvoice(source)
    except StopProcessing as refusal:
        assert refusal.code and refusal.message.strip()


# --- the upload check and the upload API --------------------------------------------------------


@pytest.mark.django_db
@SLOW
@given(
    st.one_of(mutated_seed(), st.tuples(st.sampled_from(["a.pdf", "b.xml", "c.png", "d"]), st.binary(max_size=4096)))
)
def test_it_accepts_or_refuses_any_upload_with_a_clear_reason(pair):
    filename, data = pair
    try:
        upload_validate(filename=filename, data=data)
    except ApplicationError as refusal:
        assert 400 <= refusal.status_code < 500
        assert filename in refusal.message or refusal.code in ("empty_file",), refusal.message
        assert re.search(r"[a-zäöüß]{3}", refusal.message), refusal.message  # a sentence, not a code


@pytest.fixture
def uploader(client, owner):
    from system.services import config_set

    config_set(key="ingest.uploads_per_minute", value=0, user=None)  # the rate limit is tested elsewhere
    client.force_login(owner)
    return client


@pytest.mark.django_db
def test_it_never_answers_an_upload_with_a_server_error(uploader):
    from django.core.files.uploadedfile import SimpleUploadedFile

    @settings(
        max_examples=40,
        deadline=datetime.timedelta(seconds=10),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        st.one_of(
            mutated_seed(),
            st.tuples(st.text(min_size=1, max_size=120), st.binary(min_size=0, max_size=2048)),
            st.tuples(st.text(min_size=1, max_size=40), hostile_xml_fragments),
        )
    )
    def upload(pair):
        filename, data = pair
        response = uploader.post("/api/v1/documents/", {"file": SimpleUploadedFile(filename, data)})
        assert response.status_code == 202 or 400 <= response.status_code < 500, (
            response.status_code,
            response.content[:300],
        )
        if response.status_code != 202:
            error = response.json()
            # Serializer errors name the field; service refusals carry {"error": {"code", "message"}}.
            reason = error["error"]["message"] if "error" in error else str(error)
            assert reason.strip(), error

    upload()
