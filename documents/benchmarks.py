"""``manage.py bench pages``: server-side render time of the main screens with many documents.

Generates ``documents`` rows (default 10,000) with fields, tags and pages inside one
transaction, renders each screen ``repeat`` times through Django's test client (the whole
request: middleware, queries, template), reports p50/p95/max per screen, and rolls the
transaction back, so the database is left as it was.
"""

import os
import random
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

TARGET_P95_MS = 150.0


@dataclass(frozen=True)
class PagesConfig:
    documents: int = 10_000
    repeat: int = 30
    seed: int = 1

    def __post_init__(self):
        if self.documents < 100:
            raise ValueError("Mindestens 100 Dokumente (--documents).")
        if self.repeat < 5:
            raise ValueError("Mindestens 5 Wiederholungen (--repeat).")


class _Rollback(Exception):
    pass


def _generate(config: PagesConfig, log, *, owner=None) -> dict:
    """Documents with fields, tags and one page for the sample, owned by ``owner`` (else new users).

    ``bench load`` passes its own user and commits the rows; ``bench pages`` rolls them back.
    """
    from documents.models import Document, DocumentPage, ExtractedField, Tag
    from documents.search import search_vector_refresh
    from suppliers.models import Supplier

    rng = random.Random(config.seed)  # noqa: S311 (reproducible test data, not security)
    User = get_user_model()
    stamp = uuid.uuid4().hex[:8]
    if owner is None:
        owner = User.objects.create_user(f"bench-owner-{stamp}@example.invalid", uuid.uuid4().hex)
        reviewer = User.objects.create_superuser(f"bench-reviewer-{stamp}@example.invalid", uuid.uuid4().hex)
    else:
        reviewer = owner
    suppliers = Supplier.objects.bulk_create(Supplier(name=f"Lieferant {n} GmbH") for n in range(200))
    tags = Tag.objects.bulk_create(Tag(name=f"bench-{stamp}-{n}") for n in range(20))
    statuses = ["review"] * 3 + ["approved"] * 6 + ["rejected", "queued"]
    now = timezone.now()
    documents = []
    for n in range(config.documents):
        status = rng.choice(statuses)
        documents.append(
            Document(
                owner=owner,
                title=f"Rechnung {n:05d}",
                original_filename=f"rechnung-{n:05d}.pdf",
                mime_type="application/pdf",
                file_size=1000 + n,
                sha256=f"{n:064x}",
                storage_key=f"bench/{stamp}/{n}.pdf",
                status=status,
                status_reason="Unlesbar" if status == "rejected" else "",
                document_type=rng.choice(["invoice", "invoice", "credit_note", "receipt"]),
                supplier=rng.choice(suppliers),
                document_number=f"RE-{n:05d}",
                document_date=date(2026, 1, 1) + timedelta(days=rng.randrange(300)),
                total_amount=Decimal(rng.randrange(100, 500_000)) / 100,
                currency="EUR",
                overall_confidence=rng.random(),
                review_priority=rng.random() if status == "review" else None,
                created_at=now - timedelta(minutes=n),
                line_items=[{"position": str(i), "description": "Position", "line_total": "10.00"} for i in range(3)],
            )
        )
    log(f"{config.documents} Dokumente anlegen …")
    Document.objects.bulk_create(documents, batch_size=1000)
    through = Document.tags.through
    through.objects.bulk_create(
        (through(document_id=document.id, tag_id=rng.choice(tags).id) for document in documents), batch_size=2000
    )
    fields = []
    for document in documents:
        for name, value in (
            ("invoice_number", document.document_number),
            ("invoice_date", document.document_date.isoformat()),
            ("total_amount", str(document.total_amount)),
            ("supplier_name", document.supplier.name),
        ):
            fields.append(
                ExtractedField(
                    document=document, name=name, value=value, normalized_value=value, confidence=0.8, page=1
                )
            )
    ExtractedField.objects.bulk_create(fields, batch_size=5000)
    log("Suchindex aufbauen …")
    search_vector_refresh(document_ids=[document.id for document in documents])
    sample = documents[0]
    Document.objects.filter(id=sample.id).update(status="review")
    DocumentPage.objects.create(
        document=sample,
        page_number=1,
        image_key="bench/p1.jpg",
        width_px=1000,
        height_px=1400,
        dpi=150,
        text_source="ocr",
        words=[{"text": f"Wort{i}", "bbox": [0.1, i / 400, 0.2, (i + 1) / 400], "confidence": 0.9} for i in range(400)],
    )
    return {
        "reviewer": reviewer,
        "sample": sample,
        "tag": tags[0],
        "document_ids": [document.id for document in documents],
    }


def _measure(client: Client, url: str, repeat: int) -> dict:
    client.get(url)  # warm-up: template loading, first-query caches
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        # Python time of this process alone: comparable across runs on a busy machine, where
        # wall time also counts waiting for the CPU (the database's share is not in it).
        cpu.append((time.process_time() - start_cpu) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} antwortete mit {response.status_code}")
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {
        "url": url,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(times[-1], 1),
        "cpu_p50_ms": round(statistics.median(cpu), 1),
        "ok": p95 < TARGET_P95_MS,
    }


def run_pages_benchmark(config: PagesConfig, *, log) -> dict:
    figures: dict = {}
    try:
        with transaction.atomic(), override_settings(ALLOWED_HOSTS=["*"], DEBUG=False):
            data = _generate(config, log)
            client = Client()
            client.force_login(data["reviewer"])
            sample = data["sample"]
            screens = {
                "Dokumentliste": reverse("documents:list"),
                "Dokumentliste, gefiltert": reverse("documents:list")
                + f"?status=approved&document_type=invoice&amount_min=100&tag={data['tag'].id}&sort=-total_amount",
                "Dokumentliste, Seite 50": reverse("documents:list") + "?page=50",
                "Prüfwarteschlange": reverse("documents:queue"),
                "Prüfansicht": reverse("documents:review", args=[sample.id]),
                "Suche": reverse("documents:search") + "?q=Rechnung",
            }
            for name, url in screens.items():
                log(f"{name} …")
                figures[name] = _measure(client, url, config.repeat)
            raise _Rollback
    except _Rollback:
        pass
    load = round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None
    return {
        "load_average": load,
        "cpu_count": os.cpu_count(),
        "documents": config.documents,
        "repeat": config.repeat,
        "target_p95_ms": TARGET_P95_MS,
        "screens": figures,
    }


def format_pages_report(figures: dict) -> str:
    lines = [
        f"Seiten-Renderzeit mit {figures['documents']} Dokumenten, je {figures['repeat']} Aufrufe "
        f"(Ziel p95 < {figures['target_p95_ms']:.0f} ms); "
        f"Last {figures['load_average']} auf {figures['cpu_count']} Kernen",
        f"{'Ansicht':<28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'CPU p50':>8}",
    ]
    for name, row in figures["screens"].items():
        mark = "" if row["ok"] else "  ÜBER ZIEL"
        lines.append(
            f"{name:<28} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} {row['max_ms']:>8.1f} "
            f"{row['cpu_p50_ms']:>8.1f}{mark}"
        )
    return "\n".join(lines)
