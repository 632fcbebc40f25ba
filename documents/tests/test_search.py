import uuid

import pytest
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.urls import reverse

from ablage.errors import ApplicationError
from documents import services
from documents.models import Document, ExtractedField, OCRResult, ProcessingJob
from documents.search import MAX_QUERY_LENGTH, _search_simple, document_search, ranked_matches, search_vector_refresh
from documents.selectors import visible_documents

pytestmark = [pytest.mark.django_db]

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="German full-text search is PostgreSQL")


def make_document(owner, *, title, text="", fields=None):
    document = Document.objects.create(
        owner=owner,
        title=title,
        original_filename="beleg.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="0" * 64,
        storage_key=f"originals/{uuid.uuid4()}.pdf",
        status=Document.Status.APPROVED,
    )
    if text:
        job = ProcessingJob.objects.create(document=document, status=ProcessingJob.Status.COMPLETED)
        OCRResult.objects.create(document=document, job=job, backend="tesseract", content_source="ocr", text=text)
    for name, value in (fields or {}).items():
        ExtractedField.objects.create(document=document, name=name, value=value)
    search_vector_refresh(document_ids=[document.id])  # as the pipeline does after writing text and fields
    return document


def titles(hits):
    return [hit.document.title for hit in hits]


@postgres_only
def test_it_ranks_a_title_match_above_a_body_match(owner):
    make_document(owner, title="Lieferschein 4711", text="Zur Wartung der Heizungsanlage am Montag.")
    make_document(owner, title="Wartung Heizung", text="Lieferschein folgt mit separater Post.")

    hits = document_search(user=owner, query="Wartung")

    assert titles(hits) == ["Wartung Heizung", "Lieferschein 4711"]
    assert hits[0].rank > hits[1].rank


@postgres_only
def test_it_finds_words_in_the_current_ocr_text_only(owner):
    document = make_document(owner, title="Beleg", text="Aktueller Text mit Kilowattstunden.")
    old_job = ProcessingJob.objects.create(document=document, status=ProcessingJob.Status.COMPLETED)
    OCRResult.objects.create(
        document=document,
        job=old_job,
        backend="tesseract",
        content_source="ocr",
        text="Veraltet Zitronen",
        is_current=False,
    )
    search_vector_refresh(document_ids=[document.id])

    assert titles(document_search(user=owner, query="Kilowattstunden")) == ["Beleg"]
    assert document_search(user=owner, query="Zitronen") == []


@postgres_only
def test_it_matches_through_the_gin_index_on_the_stored_vector(owner, django_user_model):
    admin = django_user_model.objects.create_superuser("admin@example.com", "Passwort-12345")
    Document.objects.bulk_create(
        Document(
            owner=owner,
            title=f"Stromabrechnung {n}" if n % 100 == 0 else f"Beleg {n}",
            original_filename="beleg.pdf",
            mime_type="application/pdf",
            file_size=1,
            sha256="0" * 64,
            storage_key=f"originals/{uuid.uuid4()}.pdf",
            status=Document.Status.APPROVED,
        )
        for n in range(1000)
    )
    search_vector_refresh(document_ids=Document.objects.values_list("id", flat=True))
    with connection.cursor() as cursor:
        # Fresh rows wait in the GIN index's pending list, which the planner prices as a full scan
        # of that list; autovacuum would merge it some time later, this merges it now.
        cursor.execute("SELECT gin_clean_pending_list('document_search_vector_gin'::regclass)")
        cursor.execute("ANALYZE documents_document")
        # 1,000 narrow rows fit a few pages, where a sequential scan can be cheaper; what must
        # hold is that the query can use the index at all (its shape matches the indexed vector).
        cursor.execute("SET LOCAL enable_seqscan = off")
    matches = ranked_matches(visible_documents(admin), SearchQuery("Stromabrechnung", config="german"))[:50]

    plan = matches.explain()

    assert "Bitmap Index Scan on document_search_vector_gin" in plan, plan
    assert len(matches) == 10


@postgres_only
def test_it_ranks_by_weight_and_frequency_across_title_fields_and_text(owner):
    make_document(owner, title="Beleg A", text="Einmal Wartung erwähnt, sonst nichts.")
    make_document(owner, title="Beleg B", fields={"supplier_name": "Wartung und Service GmbH"})
    make_document(owner, title="Wartung Heizung", text="Allgemeines")
    make_document(owner, title="Beleg C", text="Wartung, Wartung, Wartung und nochmals Wartung der Anlage.")

    hits = document_search(user=owner, query="Wartung")

    assert titles(hits) == ["Wartung Heizung", "Beleg B", "Beleg C", "Beleg A"]
    assert [hit.rank for hit in hits] == sorted((hit.rank for hit in hits), reverse=True)


@postgres_only
def test_it_finds_a_clerks_correction_at_once(owner, reviewer):
    document = make_document(owner, title="Beleg", fields={"supplier_name": "Stadtwerke Alt"})
    Document.objects.filter(id=document.id).update(status=Document.Status.REVIEW)
    document.refresh_from_db()

    services.document_update_fields(document=document, user=reviewer, values={"supplier_name": "Elektro Zuverlässig"})

    assert titles(document_search(user=owner, query="zuverlässig")) == ["Beleg"]
    assert document_search(user=owner, query="Stadtwerke") == []


@postgres_only
def test_it_indexes_what_the_pipeline_stored(owner, born_digital_pdf):
    document = services.document_ingest(owner=owner, filename="Beleg.pdf", data=born_digital_pdf)
    assert titles(document_search(user=owner, query="Beleg")) == ["Beleg"]  # the title, before processing
    assert document_search(user=owner, query="Verwendungszweck") == []

    services.job_run(job_id=document.jobs.get().id)

    hits = document_search(user=owner, query="Verwendungszweck")  # a word of the text layer only
    assert titles(hits) == ["Beleg"] and "<mark>Verwendungszweck</mark>" in hits[0].snippet


@postgres_only
def test_it_finds_extracted_field_values(owner):
    make_document(owner, title="Beleg", fields={"supplier_name": "Stadtwerke Musterhausen"})

    assert titles(document_search(user=owner, query="Musterhausen")) == ["Beleg"]


@postgres_only
def test_it_highlights_the_hit_and_escapes_document_text(owner):
    # ts_headline drops what its parser takes for a <script> tag but keeps <img ... onerror=...>.
    make_document(
        owner,
        title="Beleg",
        text="<script>alert(1)</script> Rechnung <img src=x onerror=alert(1)> über Fliesenarbeiten & Fugen.",
    )

    snippet = document_search(user=owner, query="Fliesenarbeiten")[0].snippet

    assert "<mark>Fliesenarbeiten</mark>" in snippet
    assert "<script>" not in snippet and "<img" not in snippet
    assert "&lt;img src=x onerror=alert(1)&gt;" in snippet
    assert "&amp; Fugen" in snippet
    assert str(snippet).replace("<mark>", "").replace("</mark>", "").count("<") == 0


@postgres_only
def test_it_matches_inflected_german_words(owner):
    make_document(owner, title="Beleg", text="Offene Rechnungen aus dem Vormonat")

    assert titles(document_search(user=owner, query="Rechnung")) == ["Beleg"]


@postgres_only
@pytest.mark.parametrize("query", ["Gebühren", "GEBÜHREN", "Gebuhren", "Straße", "Strasse", "STRASSE"])
def test_it_matches_umlauts_and_sharp_s(owner, query):
    make_document(owner, title="Beleg", text="Gebühren für die Lange Straße 5")

    assert titles(document_search(user=owner, query=query)) == ["Beleg"]


@postgres_only
def test_it_finds_ss_in_the_document_from_a_query_spelt_with_sharp_s(owner):
    make_document(owner, title="Beleg", text="Lieferung an Lange Strasse 5")

    assert titles(document_search(user=owner, query="Straße")) == ["Beleg"]


@postgres_only
def test_it_understands_web_search_syntax(owner):
    make_document(owner, title="Strom Januar", text="Stromrechnung")
    make_document(owner, title="Strom Mahnung", text="Mahnung zur Stromrechnung")

    assert titles(document_search(user=owner, query="Strom -Mahnung")) == ["Strom Januar"]
    assert titles(document_search(user=owner, query='"Strom Mahnung"')) == ["Strom Mahnung"]


def test_it_shows_an_outsider_nothing(owner, outsider):
    make_document(owner, title="Geheime Rechnung", text="Vertrauliche Gehaltsabrechnung")

    assert document_search(user=outsider, query="Rechnung") == []
    assert document_search(user=outsider, query="Gehaltsabrechnung") == []
    assert titles(document_search(user=owner, query="Rechnung")) == ["Geheime Rechnung"]


def test_it_refuses_an_overlong_query(owner):
    with pytest.raises(ApplicationError) as refusal:
        document_search(user=owner, query="x" * (MAX_QUERY_LENGTH + 1))

    assert refusal.value.code == "search_query_too_long"


def test_it_returns_nothing_for_a_blank_query(owner):
    make_document(owner, title="Beleg", text="Text")

    assert document_search(user=owner, query="   ") == []


# The SQLite path (also runs on PostgreSQL: it is plain ORM)


@pytest.mark.embedded
def test_it_falls_back_to_substring_search_with_every_word_required(owner, outsider):
    make_document(owner, title="Stromrechnung", text="Verbrauch Januar", fields={"supplier_name": "Stadtwerke"})
    make_document(owner, title="Wasserrechnung", text="Verbrauch Februar")

    assert titles(_search_simple(visible_documents(owner), "rechnung stadtwerke", 50)) == ["Stromrechnung"]
    assert sorted(titles(_search_simple(visible_documents(owner), "VERBRAUCH", 50))) == [
        "Stromrechnung",
        "Wasserrechnung",
    ]
    assert _search_simple(visible_documents(outsider), "rechnung", 50) == []


@pytest.mark.embedded
def test_it_escapes_the_fallback_snippet(owner):
    make_document(owner, title="Beleg", text="<script>alert(1)</script> Die Fliesenarbeiten & Fugen")

    snippet = _search_simple(visible_documents(owner), "fliesen", 50)[0].snippet

    assert "<mark>Fliesen</mark>arbeiten" in snippet
    assert "<script>" not in snippet and "&lt;script&gt;" in snippet and "&amp; Fugen" in snippet


# View


def test_it_shows_hits_on_the_search_page(client, owner):
    make_document(owner, title="Wartung Heizung", text="<b>fett</b> Heizungswartung")
    client.force_login(owner)

    response = client.get(reverse("documents:search"), {"q": "Wartung"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "Wartung Heizung" in body and "<b>fett</b>" not in body
    assert reverse("documents:review", args=[Document.objects.get().id]) in body


def test_it_returns_the_results_partial_to_htmx(client, owner):
    make_document(owner, title="Wartung Heizung")
    client.force_login(owner)

    response = client.get(reverse("documents:search"), {"q": "Wartung", "partial": "results"}, HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="search-results"') and "<html" not in body
    assert "Wartung Heizung" in body


def test_it_reports_an_overlong_query_on_the_page(client, owner):
    client.force_login(owner)

    response = client.get(reverse("documents:search"), {"q": "x" * 500})

    assert response.status_code == 400
    assert "Der Suchbegriff ist zu lang" in response.content.decode()


def test_it_sends_anonymous_visitors_from_the_search_to_the_login(client):
    response = client.get(reverse("documents:search"), {"q": "Rechnung"})

    assert response.status_code == 302 and "/konto/anmelden/" in response["Location"]
