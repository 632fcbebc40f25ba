"""``manage.py bench load``: concurrent uploads over HTTP, the queue draining, reads under load,
websocket fan-out, and sustained load at 70 % and 150 % of the measured capacity.

Starts the web server (``ablage.serve``: several daphnes on one socket, the production
launcher) on a free loopback port against the configured database, or measures one already
running (``--url`` with ``--api-key``; then only uploads and API reads). A dedicated user
``bench-load-<stamp>@example.invalid`` with an API key

1. uploads ``uploads`` generated invoices (XRechnung XML and born-digital PDFs),
   ``concurrency`` at a time; when a worker is running, waits until every accepted document
   has left the queue: documents per minute is the measured capacity;
2. gets ``documents`` generated documents (like ``bench pages``, owned by another user and
   shared with the bench user through a team; committed, they stay like the uploads);
   ``clients`` concurrent clients read the document list API ``reads`` times in all, then
   the review screen (session login) as often;
3. opens ``ws_clients`` websockets as the bench user (who sees the generated documents
   through their team) and ``ws_outsiders`` as other users (half of them in another team, so
   they listen to every document and rely on the consumer's per-event access check),
   publishes one event for each of ``ws_documents`` documents and counts what arrived where;
4. uploads at 70 % of the capacity for ``sustained`` seconds (queue length and worker memory
   sampled), then at 150 % for ``overload`` seconds with readers on the API; uploads answered
   429/503 wait out their Retry-After; after each phase everything must drain.

Bounded: every request has a timeout, the drain a deadline. Loopback only. The uploaded
documents stay in the database (under the bench user), like any other upload: run it on a
test installation, not on the production archive.
"""

import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from django.conf import settings
from django.utils import timezone

TARGET_UPLOAD_P95_S = 1.0
TARGET_READ_P95_S = 0.2
TARGET_WEBSOCKET_P95_S = 1.0
TARGET_OVERLOAD_READ_P95_S = 0.5
# "Worker memory flat": the last third of the samples stays within this of the first third.
RSS_GROWTH_LIMIT = 0.15
REQUEST_TIMEOUT_S = 30.0


class LoadBenchmarkError(Exception):
    pass


@dataclass(frozen=True)
class LoadConfig:
    uploads: int = 50
    concurrency: int = 50
    clients: int = 20
    reads: int = 400
    drain_timeout: float = 600.0
    url: str = ""
    api_key: str = ""
    seed: int = 0  # 0: a random start, so that a second run uploads new bytes, not duplicates
    web_processes: int = 0  # 0: ABLAGE_WEB_PROCESSES, else min(4, cores) (ablage.serve)
    documents: int = 10_000
    ws_clients: int = 200
    ws_documents: int = 50
    ws_outsiders: int = 6
    sustained: float = 600.0
    overload: float = 300.0
    capacity: float = 0.0  # documents per minute; 0: measured in phase 1

    def __post_init__(self):
        if not 1 <= self.uploads <= 5000:
            raise ValueError("--uploads muss zwischen 1 und 5000 liegen.")
        if not 1 <= self.concurrency <= 200:
            raise ValueError("--concurrency muss zwischen 1 und 200 liegen.")
        if not 1 <= self.clients <= 200 or not 0 <= self.reads <= 100_000:
            raise ValueError("--clients 1 bis 200, --reads 0 bis 100000.")
        if bool(self.url) != bool(self.api_key):
            raise ValueError("--url und --api-key nur zusammen angeben.")
        if self.url and not self.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
            raise ValueError("Nur Server auf diesem Rechner (Loopback) werden gemessen.")
        if not 0 <= self.web_processes <= 64:
            raise ValueError("--web-processes 0 (Standard) bis 64.")
        if self.documents and not 100 <= self.documents <= 100_000:
            raise ValueError("--documents 0 (auslassen) oder 100 bis 100000.")
        if not 0 <= self.ws_clients <= 2000 or not 1 <= self.ws_documents <= 500 or not 0 <= self.ws_outsiders <= 50:
            raise ValueError("--ws-clients 0 bis 2000, --ws-documents 1 bis 500, --ws-outsiders 0 bis 50.")
        if not 0 <= self.sustained <= 7200 or not 0 <= self.overload <= 7200 or self.capacity < 0:
            raise ValueError("--sustained und --overload 0 bis 7200 Sekunden, --capacity nicht negativ.")


# ``--quick``: every phase, small, in a few minutes.
QUICK_LOAD = {
    "uploads": 20,
    "concurrency": 20,
    "reads": 200,
    "documents": 1000,
    "ws_clients": 50,
    "ws_documents": 10,
    "ws_outsiders": 4,
    "sustained": 30.0,
    "overload": 20.0,
    "drain_timeout": 300.0,
}


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Server:
    """``ablage.serve`` (several daphnes) on a free loopback port with this process's settings."""

    def __init__(self, log, processes: int):
        self.port = _free_port()
        self.log_path = Path(settings.DATA_DIR) / f"bench-load-daphne-{self.port}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
            # The test settings name their database from this; production settings ignore it.
            "ABLAGE_TEST_DB_NAME": str(settings.DATABASES["default"]["NAME"]),
        }
        command = [sys.executable, "-m", "ablage.serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--processes", str(processes), "--stop-timeout", "20"]
        with self.log_path.open("w") as output:
            self.process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        log(f"Webserver ({processes} daphne-Prozesse) startet auf 127.0.0.1:{self.port} …")
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health/live", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise LoadBenchmarkError(f"Der Webserver startete nicht:\n{self.log_path.read_text()[-2000:]}")
            time.sleep(0.3)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _bench_user():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from accounts.services import api_key_create

    stamp = uuid.uuid4().hex[:8]
    user = get_user_model().objects.create_user(f"bench-load-{stamp}@example.invalid", uuid.uuid4().hex)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="documents", codename__in=["add_document", "view_document"])
    )
    # The key's own rate: high enough that the benchmark measures the server, not the throttle.
    _key, raw_key = api_key_create(
        user=user, actor=user, name="bench load", scopes=["read", "write"], rate_limit_per_minute=100_000
    )
    return user, raw_key


def _invoice(seed: int) -> tuple[str, bytes]:
    """One generated invoice: XRechnung XML for even seeds, a born-digital PDF for odd ones."""
    from ablage.testing.einvoices import xrechnung_cii_xml
    from ablage.testing.invoice_pdf import render_pdf
    from ablage.testing.invoices import random_invoice

    spec = random_invoice(seed, layout="A")
    if seed % 2:
        return f"bench-{seed}.pdf", render_pdf(spec, "A")
    return f"bench-{seed}.xml", xrechnung_cii_xml(spec)


def _invoices(config: LoadConfig, seed: int) -> list[tuple[str, bytes]]:
    return [_invoice(seed + number) for number in range(config.uploads)]


def _upload_all(base_url: str, key: str, files, concurrency: int) -> tuple[list[dict], float]:
    headers = {"Authorization": f"Api-Key {key}"}

    def upload(item):
        filename, data = item
        started = time.perf_counter()
        try:
            with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
                response = client.post(
                    f"{base_url}/api/v1/documents/", files={"file": (filename, data)}, headers=headers
                )
        except httpx.HTTPError as exc:
            return {"seconds": time.perf_counter() - started, "status": type(exc).__name__, "id": None}
        document_id = response.json().get("id") if response.status_code == 202 else None
        return {
            "seconds": time.perf_counter() - started,
            "status": response.status_code,
            "id": document_id,
            "retry_after": response.headers.get("Retry-After"),
        }

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(upload, files))
    return results, time.perf_counter() - started


def _drain(document_ids: list[str], timeout: float, log) -> dict:
    from documents.models import Document
    from monitoring.models import WorkerHeartbeat

    # Workers refresh their row every 30 s (monitoring.heartbeat); older rows are gone workers.
    alive = WorkerHeartbeat.objects.filter(stopping=False, last_seen_at__gte=timezone.now() - timedelta(seconds=90))
    if not alive.exists():
        log("Kein laufender Worker: die Abarbeitung der Warteschlange wird nicht gemessen.")
        return {"measured": False, "reason": "kein laufender Worker"}
    in_flight = Document.objects.filter(id__in=document_ids, status__in=["queued", "processing"])
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while in_flight.exists() and time.monotonic() < deadline:
        time.sleep(1)
    seconds = time.perf_counter() - started
    left = in_flight.count()
    states = Counter(Document.objects.filter(id__in=document_ids).values_list("status", flat=True))
    return {
        "measured": True,
        "seconds": seconds,
        "left_in_queue": left,
        "documents_per_minute": (len(document_ids) - left) / seconds * 60 if seconds else None,
        "states": dict(states),
    }


def _latency(timings: list[float], target: float) -> dict:
    timing = percentiles(timings)
    return {
        "requests": len(timings),
        "latency_seconds": timing,
        "target_p95_seconds": target,
        "target_met": timing["p95"] is not None and timing["p95"] < target,
    }


def _screens_phase(config: LoadConfig, base_url: str, key: str, user, log) -> tuple[dict, dict | None]:
    """Document list API and review screen, ``clients`` at a time, with ``documents`` in the database."""
    from documents import load_phases

    seeded = None
    if config.documents and not config.url:
        seeded = load_phases.seed_documents(user, config.documents, log)
    figures = {"documents": config.documents if seeded else None, "clients": config.clients}
    log(f"{config.reads} Abrufe der Dokumentliste (API), {config.clients} Clients gleichzeitig …")
    api = load_phases.concurrent_reads(
        [f"{base_url}/api/v1/documents/?page_size=25", f"{base_url}/api/v1/documents/?page_size=25&page=2"],
        clients=config.clients,
        reads=config.reads,
        headers={"Authorization": f"Api-Key {key}"},
    )
    figures["api_list"] = {"statuses": api["statuses"], **_latency(api["timings"], TARGET_READ_P95_S)}
    if seeded:
        from django.urls import reverse

        log(f"{config.reads} Abrufe der Prüfansicht, {config.clients} Clients gleichzeitig …")
        name, value = load_phases.session_cookie(user)
        samples = [seeded["sample"].id, *seeded["document_ids"][1:20]]
        review = load_phases.concurrent_reads(
            [base_url + reverse("documents:review", args=[document_id]) for document_id in samples],
            clients=config.clients,
            reads=config.reads,
            cookies={name: value},
        )
        figures["review_screen"] = {"statuses": review["statuses"], **_latency(review["timings"], TARGET_READ_P95_S)}
    return figures, seeded


def _websocket_phase(config: LoadConfig, base_url: str, user, document_ids: list, log) -> dict:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from accounts.models import Team
    from documents import events, load_phases

    if not settings.CHANNEL_LAYERS:
        return {"measured": False, "reason": "keine Channel-Layer (ohne REDIS_URL pollt der Browser)"}
    if len(document_ids) < config.ws_documents:
        return {"measured": False, "reason": f"nur {len(document_ids)} Dokumente (--ws-documents)"}
    stamp = uuid.uuid4().hex[:8]
    view = Permission.objects.filter(content_type__app_label="documents", codename="view_document")
    outsiders = []
    # Team members listen to every document's events and depend on the consumer's per-event
    # access check (documents.consumers); the others only hear their own group.
    team = Team.objects.create(name=f"bench-load-{stamp}")
    for number in range(config.ws_outsiders):
        outsider = get_user_model().objects.create_user(
            f"bench-load-{stamp}-outsider-{number}@example.invalid", uuid.uuid4().hex
        )
        outsider.user_permissions.add(*view)
        if number % 2:
            team.members.add(outsider)
        outsiders.append(outsider)
    from documents.models import Document

    watched = document_ids[: config.ws_documents]
    owner_of = {str(pk): owner for pk, owner in Document.objects.filter(id__in=watched).values_list("id", "owner_id")}
    owner_cookie = "=".join(load_phases.session_cookie(user))
    watchers = [(owner_cookie, config.ws_clients)]
    watchers += [("=".join(load_phases.session_cookie(outsider)), 1) for outsider in outsiders]
    document_events = [
        events.DocumentEvent(
            document_id=str(document_id),
            owner_id=str(owner_of[str(document_id)]),
            status="processing",
            stage="ocr",
            message=load_phases.new_marker(),
        )
        for document_id in watched
    ]
    log(
        f"{config.ws_clients} Websockets des berechtigten Nutzers und {len(outsiders)} anderer Nutzer, "
        f"{len(document_events)} Ereignisse …"
    )
    try:
        result = load_phases.websocket_fanout(
            base_url, watchers=watchers, document_events=document_events, publish=events.publish
        )
    finally:
        team.delete()
    owners, *others = result["groups"]
    expected = owners["clients"] * len(document_events)
    timing = percentiles(owners["received"])
    return {
        "measured": True,
        "clients": owners["clients"],
        "connected": owners["connected"] + sum(group["connected"] for group in others),
        "failed": result["failed"],
        "failures": result["failures"],
        "events": len(document_events),
        "expected_deliveries": expected,
        "deliveries": len(owners["received"]),
        "latency_seconds": timing,
        "target_p95_seconds": TARGET_WEBSOCKET_P95_S,
        "outsiders": len(others),
        "outsider_deliveries": sum(len(group["received"]) for group in others),
        "target_met": (
            timing["p95"] is not None
            and timing["p95"] < TARGET_WEBSOCKET_P95_S
            and len(owners["received"]) == expected
            and not any(group["received"] for group in others)
        ),
    }


def _growth(values: list, share: float = 1 / 3) -> tuple:
    """(first third's mean, last third's max): enough to tell a plateau from a climb."""
    values = [value for value in values if value is not None]
    if len(values) < 3:
        return None, None
    size = max(1, int(len(values) * share))
    return statistics.mean(values[:size]), max(values[-size:])


def _paced_phase(
    config: LoadConfig, base_url: str, key: str, *, share: float, capacity: float, seconds: float, seed: int, log
) -> dict:
    from documents import load_phases
    from documents.models import Document

    rate = capacity / 60 * share
    readers = 4 if share > 1 else 0
    log(f"{share:.0%} der Kapazität: {rate * 60:.1f} Uploads/min für {seconds:.0f} s …")
    run = load_phases.paced_uploads(
        base_url,
        key,
        rate_per_s=rate,
        seconds=seconds,
        make_file=lambda number: _invoice(seed + number),
        readers=readers,
    )
    samples = run["samples"]
    queue_start, queue_end = _growth([sample["in_queue"] for sample in samples])
    rss_start, rss_end = _growth([sample["worker_rss"] for sample in samples])
    log("Warte, bis alles abgearbeitet ist …")
    drain = _drain(run["accepted_ids"], config.drain_timeout, log)
    stored = Document.objects.filter(id__in=run["accepted_ids"]).count()
    upload = percentiles(run["upload_times"])
    figures = {
        "share": share,
        "rate_per_minute": rate * 60,
        "seconds": run["seconds"],
        "planned": run["planned"],
        "accepted": len(run["accepted_ids"]),
        "outcome": run["outcome"],
        "busy": run["busy"],
        "upload_latency_seconds": upload,
        "queue_max": max((sample["in_queue"] for sample in samples), default=None),
        "queue_first_third_mean": queue_start,
        "queue_last_third_max": queue_end,
        # Bounded: by the end the queue is no longer than where it started plus what two
        # sampling intervals of uploads add (at least 3, for the slow rates of a small machine).
        "queue_bounded": queue_end is None or queue_end <= (queue_start or 0) + max(3, rate * 5 * 2),
        "worker_rss_first_third_mb": rss_start / 2**20 if rss_start else None,
        "worker_rss_last_third_max_mb": rss_end / 2**20 if rss_end else None,
        "worker_rss_flat": rss_start is None or rss_end <= rss_start * (1 + RSS_GROWTH_LIMIT),
        "samples": samples,
        "drain": drain,
        "stored": stored,
        "nothing_lost": stored == len(run["accepted_ids"]) and drain.get("left_in_queue") == 0,
    }
    if readers:
        figures["reads"] = {"statuses": run["read_statuses"], **_latency(run["read_times"], TARGET_OVERLOAD_READ_P95_S)}
    return figures


def run_load_benchmark(config: LoadConfig, log) -> dict:
    import logging
    import random

    from ablage.serve import default_processes

    # httpx logs every request at INFO: thousands of lines between the figures.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    seed = config.seed or random.SystemRandom().randrange(1_000_000, 1_000_000_000)
    files = _invoices(config, seed)
    server, user, seeded = None, None, None
    processes = config.web_processes or default_processes()
    if config.url:
        base_url, key = config.url.rstrip("/"), config.api_key
    else:
        user, key = _bench_user()
        server = _Server(log, processes)
        base_url = server.url
    try:
        log(f"{config.uploads} Uploads, {config.concurrency} gleichzeitig …")
        results, upload_seconds = _upload_all(base_url, key, files, config.concurrency)
        accepted = [result["id"] for result in results if result["id"]]
        statuses = Counter(str(result["status"]) for result in results)
        timing = percentiles([result["seconds"] for result in results])
        busy = [result for result in results if result["status"] in (429, 503)]
        figures = {
            "web_processes": None if config.url else processes,
            "load_average": round(os.getloadavg()[0], 1),
            "cpu_count": os.cpu_count(),
            "uploads": {
                "sent": len(results),
                "concurrency": config.concurrency,
                "accepted": len(accepted),
                "statuses": dict(statuses),
                "busy_with_retry_after": sum(1 for result in busy if result.get("retry_after")),
                "wall_seconds": upload_seconds,
                "requests_per_second": len(results) / upload_seconds if upload_seconds else None,
                "latency_seconds": timing,
                "target_p95_seconds": TARGET_UPLOAD_P95_S,
                "target_met": timing["p95"] is not None and timing["p95"] < TARGET_UPLOAD_P95_S,
            },
        }
        if config.url:
            figures["drain"] = {"measured": False, "reason": "fremder Server (--url)"}
        else:
            log("Warte, bis die Warteschlange abgearbeitet ist …")
            figures["drain"] = _drain(accepted, config.drain_timeout, log)
        if config.reads:
            figures["reads"], seeded = _screens_phase(config, base_url, key, user, log)
        if config.ws_clients and not config.url:
            watched = seeded["document_ids"] if seeded else accepted
            figures["websockets"] = _websocket_phase(config, base_url, user, watched, log)
        capacity = config.capacity or figures["drain"].get("documents_per_minute") or 0
        figures["capacity_per_minute"] = capacity or None
        for name, share, seconds, offset in (
            ("sustained", 0.7, config.sustained, 10_000_000),
            ("overload", 1.5, config.overload, 20_000_000),
        ):
            if not seconds:
                continue
            if config.url or not capacity:
                figures[name] = {"measured": False, "reason": "keine gemessene Kapazität (Worker? --capacity)"}
                continue
            figures[name] = {
                "measured": True,
                **_paced_phase(
                    config,
                    base_url,
                    key,
                    share=share,
                    capacity=capacity,
                    seconds=seconds,
                    seed=seed + offset,
                    log=log,
                ),
            }
        figures["bench_user"] = user.email if user else None
        figures["server"] = f"ablage.serve ({processes} daphne-Prozesse, gestartet)" if server else base_url
        return figures
    finally:
        if server is not None:
            server.stop()


def _ms(value) -> str:
    return "–" if value is None else f"{value * 1000:.0f} ms"


def _verdict(met: bool) -> str:
    return "erfüllt" if met else "verfehlt"


def _counts(counter: dict) -> str:
    return ", ".join(f"{code}×{count}" for code, count in sorted(counter.items())) or "keine"


def _latency_line(figures: dict, key: str = "latency_seconds") -> str:
    timing = figures[key]
    return (
        f"  Antwortzeit p50 {_ms(timing['p50'])}, p95 {_ms(timing['p95'])}, max {_ms(timing['max'])} "
        f"(Ziel p95 < {_ms(figures['target_p95_seconds'])}: {_verdict(figures['target_met'])})"
    )


def format_load_report(figures: dict) -> str:
    uploads = figures["uploads"]
    lines = [
        f"Server: {figures['server']}; Last {figures['load_average']} auf {figures['cpu_count']} Kernen",
        "Last: Uploads über HTTP",
        f"  gesendet {uploads['sent']}, gleichzeitig {uploads['concurrency']}, angenommen {uploads['accepted']}",
        f"  Antworten: {_counts(uploads['statuses'])}",
        f"  Dauer {uploads['wall_seconds']:.1f} s, {uploads['requests_per_second']:.1f} Uploads/s",
        _latency_line(uploads),
    ]
    drain = figures["drain"]
    if drain["measured"]:
        lines += [
            "Abarbeitung der Warteschlange",
            f"  {drain['seconds']:.1f} s, {drain['documents_per_minute'] or 0:.1f} Dokumente/min, "
            f"noch in der Warteschlange: {drain['left_in_queue']}",
            f"  Endzustände: {_counts(drain['states'])}",
        ]
    else:
        lines.append(f"Abarbeitung der Warteschlange: nicht gemessen ({drain['reason']})")
    if "reads" in figures:
        reads = figures["reads"]
        amount = f"{reads['documents']} Dokumenten" if reads["documents"] else "den vorhandenen Dokumenten"
        for key, title in (("api_list", "API: Dokumentliste"), ("review_screen", "Prüfansicht")):
            if key in reads:
                screen = reads[key]
                lines += [
                    f"{title} mit {amount}, {reads['clients']} Clients gleichzeitig",
                    f"  {screen['requests']} Abrufe, Antworten: {_counts(screen['statuses'])}",
                    _latency_line(screen),
                ]
    sockets = figures.get("websockets")
    if sockets and sockets["measured"]:
        lines += [
            f"Websockets: {sockets['clients']} Clients des berechtigten Nutzers, {sockets['events']} Dokumente, "
            f"{sockets['outsiders']} Clients anderer Nutzer",
            f"  verbunden {sockets['connected']}, fehlgeschlagen {sockets['failed']}; zugestellt "
            f"{sockets['deliveries']} von {sockets['expected_deliveries']}; bei anderen Nutzern angekommen: "
            f"{sockets['outsider_deliveries']} (Ziel 0)",
            _latency_line(sockets),
        ]
    elif sockets:
        lines.append(f"Websockets: nicht gemessen ({sockets['reason']})")
    if figures.get("capacity_per_minute"):
        lines.append(f"Kapazität (Grundlage der Dauerlast): {figures['capacity_per_minute']:.1f} Dokumente/min")
    for name, title in (("sustained", "Dauerlast"), ("overload", "Überlast")):
        phase = figures.get(name)
        if not phase:
            continue
        if not phase["measured"]:
            lines.append(f"{title}: nicht gemessen ({phase['reason']})")
            continue
        drain = phase["drain"]
        drained = drain.get("measured") and drain.get("left_in_queue") == 0
        lines += [
            f"{title}: {phase['share']:.0%} der Kapazität, {phase['rate_per_minute']:.1f} Uploads/min, "
            f"{phase['seconds']:.0f} s",
            f"  geplant {phase['planned']}, angenommen {phase['accepted']}; Ergebnis: {_counts(phase['outcome'])}; "
            f"ausgelastet (429/503): {_counts(phase['busy'])}",
            f"  Upload-Antwortzeit p95 {_ms(phase['upload_latency_seconds']['p95'])}",
            f"  Warteschlange: höchstens {phase['queue_max']}, am Ende bis {phase['queue_last_third_max']} "
            f"(Ziel begrenzt: {_verdict(phase['queue_bounded'])})",
            f"  Worker-Speicher: {_mb(phase['worker_rss_first_third_mb'])} -> "
            f"{_mb(phase['worker_rss_last_third_max_mb'])} "
            f"(Ziel flach, < +{RSS_GROWTH_LIMIT:.0%}: {_verdict(phase['worker_rss_flat'])})",
            f"  danach abgearbeitet: {'ja' if drained else 'nein'}"
            + (f" in {drain['seconds']:.0f} s" if drain.get("measured") else f" ({drain.get('reason')})")
            + f"; gespeichert {phase['stored']} von {phase['accepted']} (Ziel nichts verloren: "
            f"{_verdict(phase['nothing_lost'])})",
        ]
        if "reads" in phase:
            lines += [
                f"  API-Abrufe währenddessen: {phase['reads']['requests']}, "
                f"Antworten: {_counts(phase['reads']['statuses'])}",
                _latency_line(phase["reads"]),
            ]
    if figures["bench_user"]:
        lines.append(
            f"Die hochgeladenen und erzeugten Dokumente gehören {figures['bench_user']} und bleiben in der Datenbank."
        )
    return "\n".join(lines)


def _mb(value) -> str:
    return "–" if value is None else f"{value:.0f} MB"
