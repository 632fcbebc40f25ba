"""``manage.py bench load``: concurrent uploads over HTTP, the queue draining, API reads under load.

Starts the web server (daphne, the production server) on a free loopback port against the
configured database, or measures one already running (``--url`` with ``--api-key``). A
dedicated user ``bench-load-<stamp>@example.invalid`` with an API key uploads ``uploads``
generated invoices (XRechnung XML and born-digital PDFs), ``concurrency`` at a time; then,
when a worker is running, the benchmark waits until every accepted document has left the
queue; then ``clients`` concurrent clients read the document list ``reads`` times in all.

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
    """daphne on a free loopback port with this process's settings and database."""

    def __init__(self, log):
        self.port = _free_port()
        self.log_path = Path(settings.DATA_DIR) / f"bench-load-daphne-{self.port}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
            # The test settings name their database from this; production settings ignore it.
            "ABLAGE_TEST_DB_NAME": str(settings.DATABASES["default"]["NAME"]),
        }
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "ablage.asgi:application"]
        with self.log_path.open("w") as output:
            self.process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        log(f"Webserver (daphne) startet auf 127.0.0.1:{self.port} …")
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health/live", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise LoadBenchmarkError(f"daphne startete nicht:\n{self.log_path.read_text()[-2000:]}")
            time.sleep(0.3)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
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


def _invoices(config: LoadConfig, seed: int) -> list[tuple[str, bytes]]:
    from ablage.testing.einvoices import xrechnung_cii_xml
    from ablage.testing.invoice_pdf import render_pdf
    from ablage.testing.invoices import random_invoice

    files = []
    for number in range(config.uploads):
        spec = random_invoice(seed + number, layout="A")
        if number % 2:
            files.append((f"bench-{seed + number}.pdf", render_pdf(spec, "A")))
        else:
            files.append((f"bench-{seed + number}.xml", xrechnung_cii_xml(spec)))
    return files


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


def _read_load(base_url: str, key: str, clients: int, reads: int) -> tuple[list[float], Counter, float]:
    headers = {"Authorization": f"Api-Key {key}"}
    per_client = [reads // clients + (1 if n < reads % clients else 0) for n in range(clients)]
    statuses = Counter()

    def client_run(count: int) -> list[float]:
        timings = []
        with httpx.Client(timeout=REQUEST_TIMEOUT_S, headers=headers) as client:
            for _ in range(count):
                started = time.perf_counter()
                response = client.get(f"{base_url}/api/v1/documents/?page_size=25")
                timings.append(time.perf_counter() - started)
                statuses[response.status_code] += 1
        return timings

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        timings = [seconds for batch in pool.map(client_run, per_client) for seconds in batch]
    return timings, statuses, time.perf_counter() - started


def run_load_benchmark(config: LoadConfig, log) -> dict:
    import logging
    import random

    # httpx logs every request at INFO: thousands of lines between the figures.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    seed = config.seed or random.SystemRandom().randrange(1_000_000, 1_000_000_000)
    files = _invoices(config, seed)
    server, user = None, None
    if config.url:
        base_url, key = config.url.rstrip("/"), config.api_key
    else:
        user, key = _bench_user()
        server = _Server(log)
        base_url = server.url
    try:
        log(f"{config.uploads} Uploads, {config.concurrency} gleichzeitig …")
        results, upload_seconds = _upload_all(base_url, key, files, config.concurrency)
        accepted = [result["id"] for result in results if result["id"]]
        statuses = Counter(str(result["status"]) for result in results)
        timing = percentiles([result["seconds"] for result in results])
        busy = [result for result in results if result["status"] in (429, 503)]
        figures = {
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
            }
        }
        if config.url:
            figures["drain"] = {"measured": False, "reason": "fremder Server (--url)"}
        else:
            log("Warte, bis die Warteschlange abgearbeitet ist …")
            figures["drain"] = _drain(accepted, config.drain_timeout, log)
        if config.reads:
            log(f"{config.reads} Abrufe der Dokumentliste, {config.clients} Clients gleichzeitig …")
            timings, read_statuses, read_seconds = _read_load(base_url, key, config.clients, config.reads)
            read_timing = percentiles(timings)
            figures["reads"] = {
                "requests": len(timings),
                "clients": config.clients,
                "statuses": {str(code): count for code, count in read_statuses.items()},
                "requests_per_second": len(timings) / read_seconds if read_seconds else None,
                "latency_seconds": read_timing,
                "target_p95_seconds": TARGET_READ_P95_S,
                "target_met": read_timing["p95"] is not None and read_timing["p95"] < TARGET_READ_P95_S,
            }
        figures["bench_user"] = user.email if user else None
        figures["server"] = "daphne (gestartet)" if server else base_url
        return figures
    finally:
        if server is not None:
            server.stop()


def _ms(value) -> str:
    return "–" if value is None else f"{value * 1000:.0f} ms"


def format_load_report(figures: dict) -> str:
    uploads = figures["uploads"]
    lines = [
        "Last: Uploads über HTTP",
        f"  gesendet {uploads['sent']}, gleichzeitig {uploads['concurrency']}, angenommen {uploads['accepted']}",
        f"  Antworten: {', '.join(f'{code}×{count}' for code, count in sorted(uploads['statuses'].items()))}",
        f"  Dauer {uploads['wall_seconds']:.1f} s, {uploads['requests_per_second']:.1f} Uploads/s",
        f"  Antwortzeit p50 {_ms(uploads['latency_seconds']['p50'])}, p95 {_ms(uploads['latency_seconds']['p95'])}, "
        f"max {_ms(uploads['latency_seconds']['max'])} (Ziel p95 < {_ms(uploads['target_p95_seconds'])}: "
        f"{'erfüllt' if uploads['target_met'] else 'verfehlt'})",
    ]
    drain = figures["drain"]
    if drain["measured"]:
        lines += [
            "Abarbeitung der Warteschlange",
            f"  {drain['seconds']:.1f} s, {drain['documents_per_minute'] or 0:.1f} Dokumente/min, "
            f"noch in der Warteschlange: {drain['left_in_queue']}",
            f"  Endzustände: {', '.join(f'{state}×{count}' for state, count in sorted(drain['states'].items()))}",
        ]
    else:
        lines.append(f"Abarbeitung der Warteschlange: nicht gemessen ({drain['reason']})")
    if "reads" in figures:
        reads = figures["reads"]
        lines += [
            "API: Dokumentliste lesen",
            f"  {reads['requests']} Abrufe, {reads['clients']} Clients, {reads['requests_per_second']:.1f} Abrufe/s, "
            f"Antworten: {', '.join(f'{code}×{count}' for code, count in sorted(reads['statuses'].items()))}",
            f"  Antwortzeit p50 {_ms(reads['latency_seconds']['p50'])}, p95 {_ms(reads['latency_seconds']['p95'])}, "
            f"max {_ms(reads['latency_seconds']['max'])} (Ziel p95 < {_ms(reads['target_p95_seconds'])}: "
            f"{'erfüllt' if reads['target_met'] else 'verfehlt'})",
        ]
    if figures["bench_user"]:
        lines.append(f"Die Dokumente gehören {figures['bench_user']} und bleiben in der Datenbank.")
    return "\n".join(lines)
