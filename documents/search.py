"""Full-text search over documents the user may see.

PostgreSQL: German full-text search over the title (weight A), the extracted field values
(weight B) and the current OCR text (weight C), ranked with ``ts_rank`` and shown with a
``ts_headline`` snippet. The vector is stored in ``Document.search_vector`` (GIN index
``document_search_vector_gin``, migration 0016) and recomputed by ``search_vector_refresh``,
which the writes call explicitly: ingest (title), the pipeline (OCR text and fields), a clerk's
correction and a later extraction pass (fields). The German configuration stems ("Rechnungen" and "Rechnung" both
become ``rechnung``), lower-cases umlauts ("GEBÜHREN" finds "Gebühren"), and its Snowball
stemmer folds ß to ss and drops the umlaut dots: "Strasse" finds "Straße" (and back),
"Gebuhren" finds "Gebühren". It does not know transcriptions ("Mueller" does not find
"Müller") nor compounds ("Straße" does not find "Hauptstraße"); websearch syntax works
("Strom -Mahnung", "\"Lange Straße\"", "Strom or Gas").

SQLite (the embedded default): every word of the query must occur in the title, the current
OCR text or a field value; a snippet around the first hit. SQLite's LIKE ignores case for
ASCII letters only, so there "GEBÜHREN" does not find "Gebühren", and there is no stemming.
Both paths start from ``visible_documents(user)``.
"""

import re
import secrets
from dataclasses import dataclass

from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, Subquery, TextField, Value
from django.db.models.functions import Coalesce, Concat
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError
from documents.models import Document, ExtractedField, OCRResult
from documents.selectors import visible_documents

MAX_QUERY_LENGTH = 200
DEFAULT_LIMIT = 50
SNIPPET_CONTEXT = 80  # characters either side of the hit in the SQLite snippet
SEARCH_CONFIG = "german"


@dataclass(frozen=True)
class SearchHit:
    document: Document
    rank: float
    snippet: SafeString  # escaped document text, only <mark> tags are markup


def document_search(*, user, query: str, limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
    """Documents visible to ``user`` matching ``query``, best first."""
    query = " ".join(query.split())
    if not query:
        return []
    if len(query) > MAX_QUERY_LENGTH:
        raise ApplicationError(
            _("Der Suchbegriff ist zu lang (höchstens %(max)s Zeichen).") % {"max": MAX_QUERY_LENGTH},
            code="search_query_too_long",
        )
    documents = visible_documents(user)
    if connection.vendor == "postgresql":
        return _search_postgres(documents, query, limit)
    return _search_simple(documents, query, limit)


def _current_ocr_text():
    return Subquery(OCRResult.objects.filter(document=OuterRef("pk"), is_current=True).values("text")[:1])


def _field_values():
    return Subquery(
        ExtractedField.objects.filter(document=OuterRef("pk"))
        .order_by()
        .values("document")
        .annotate(values=StringAgg("value", delimiter=" "))
        .values("values")[:1]
    )


def _vector():
    ocr_text = Coalesce(_current_ocr_text(), Value(""), output_field=TextField())
    field_values = Coalesce(_field_values(), Value(""), output_field=TextField())
    return (
        SearchVector("title", config=SEARCH_CONFIG, weight="A")
        + SearchVector(field_values, config=SEARCH_CONFIG, weight="B")
        + SearchVector(ocr_text, config=SEARCH_CONFIG, weight="C")
    )


def search_vector_refresh(*, document_ids) -> None:
    """Recompute the stored search vector of these documents from their title, fields and current OCR text.

    Call in the transaction that changed one of them. One UPDATE for any number of documents.
    Nothing to do on SQLite, which searches the texts themselves.
    """
    if connection.vendor != "postgresql":
        return
    Document.all_objects.filter(id__in=list(document_ids)).update(search_vector=_vector())


def ranked_matches(documents, search_query: SearchQuery):
    """The documents matching ``search_query``, best first: the match uses the GIN index on the
    stored vector, and the rank reads the stored vector, not the texts."""
    return (
        documents.filter(search_vector=search_query)
        .annotate(rank=SearchRank(F("search_vector"), search_query))
        .order_by("-rank", "-created_at")
    )


def _search_postgres(documents, query: str, limit: int) -> list[SearchHit]:
    ocr_text = Coalesce(_current_ocr_text(), Value(""), output_field=TextField())
    field_values = Coalesce(_field_values(), Value(""), output_field=TextField())
    search_query = SearchQuery(query, config=SEARCH_CONFIG, search_type="websearch")
    # ts_headline's output is document text; the highlight markers must be something that
    # text cannot contain, so escaping the text cannot be confused with our markup. A random
    # token per search is that (and a forged one would only add a harmless <mark>).
    token = secrets.token_hex(8)
    start, stop = f"hlstart{token}", f"hlstop{token}"
    headline = SearchHeadline(
        Concat("title", Value("\n"), field_values, Value("\n"), ocr_text, output_field=TextField()),
        search_query,
        config=SEARCH_CONFIG,
        start_sel=start,
        stop_sel=stop,
        max_words=30,
        min_words=12,
        max_fragments=2,
        fragment_delimiter=" … ",
    )
    # Two steps: rank with a narrow row (id, rank: no joins, nothing wide carried through the
    # sort), then load the page of hits with their headline; ts_headline re-parses whole
    # texts, so it must run for these rows only.
    top = list(ranked_matches(documents, search_query).values_list("id", "rank")[:limit])
    loaded = {hit.id: hit for hit in documents.filter(id__in=[id_ for id_, _ in top]).annotate(headline=headline)}
    return [
        SearchHit(document=loaded[id_], rank=rank, snippet=_highlight(loaded[id_].headline, start=start, stop=stop))
        for id_, rank in top
        if id_ in loaded
    ]


def _highlight(headline: str, *, start: str, stop: str) -> SafeString:
    escaped = escape(" ".join(headline.split()))
    return mark_safe(escaped.replace(start, "<mark>").replace(stop, "</mark>"))  # noqa: S308 - text escaped above


def _search_simple(documents, query: str, limit: int) -> list[SearchHit]:
    terms = query.split()
    for term in terms:
        documents = documents.filter(
            Q(title__icontains=term)
            | Exists(OCRResult.objects.filter(document=OuterRef("pk"), is_current=True, text__icontains=term))
            | Exists(ExtractedField.objects.filter(document=OuterRef("pk"), value__icontains=term))
        )
    rows = (
        documents.annotate(ocr_text=Coalesce(_current_ocr_text(), Value(""), output_field=TextField()))
        .prefetch_related("fields")
        .order_by("-created_at")[:limit]
    )
    hits = []
    for document in rows:
        values = " ".join(field.value for field in document.fields.all())
        text = " ".join(f"{document.title}\n{values}\n{document.ocr_text}".split())
        hits.append(SearchHit(document=document, rank=0.0, snippet=_plain_snippet(text, terms[0])))
    return hits


def _plain_snippet(text: str, term: str) -> SafeString:
    match = re.search(re.escape(term), text, flags=re.IGNORECASE)
    if match is None:
        return escape(text[: 2 * SNIPPET_CONTEXT])
    begin = max(match.start() - SNIPPET_CONTEXT, 0)
    end = min(match.end() + SNIPPET_CONTEXT, len(text))
    before, hit, after = text[begin : match.start()], text[match.start() : match.end()], text[match.end() : end]
    prefix = "… " if begin > 0 else ""
    suffix = " …" if end < len(text) else ""
    return mark_safe(f"{prefix}{escape(before)}<mark>{escape(hit)}</mark>{escape(after)}{suffix}")  # noqa: S308
