"""The later phases of ``bench load``: screens with many documents, websockets, sustained load.

Each phase takes a running server (``base_url``) and returns plain figures; the orchestration,
the report and the targets live in ``documents.load_benchmark``. Every request has a timeout
and every phase a deadline; everything talks to loopback only.
"""

import asyncio
import base64
import json
import os
import struct
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from django.db import connection

REQUEST_TIMEOUT_S = 30.0
IN_FLIGHT = ("queued", "processing")


# --- screens with many documents ----------------------------------------------------------------


def seed_documents(user, count: int, log) -> dict:
    """``count`` generated documents ``user`` sees through a team, committed (the server is
    another process). Another user owns them, so that the bench user's own documents are
    exactly its uploads, and a team member hears every document event (documents.consumers).

    They stay, like the uploads: approved invoices fall under the retention guard
    (documents.retention, §147 AO), and the benchmark does not go around it.
    """
    from django.contrib.auth import get_user_model

    from accounts.models import Team
    from documents.benchmarks import PagesConfig, _generate
    from documents.models import Document

    stamp = uuid.uuid4().hex[:8]
    owner = get_user_model().objects.create_user(f"bench-load-{stamp}-owner@example.invalid", uuid.uuid4().hex)
    team = Team.objects.create(name=f"bench-load-{stamp}")
    team.members.add(user)
    data = _generate(PagesConfig(documents=count, repeat=5, seed=1), log, owner=owner)
    # A generated "queued" row has no broker message and no file: the stuck-job sweeper would
    # re-enqueue it and the worker would fail it. The screens only need the rows to exist.
    Document.objects.filter(id__in=data["document_ids"], status="queued").update(status="approved")
    Document.objects.filter(id__in=data["document_ids"]).update(team=team)
    return data


def session_cookie(user) -> tuple[str, str]:
    """A logged-in session for ``user``, as (cookie name, value), the way a browser holds it."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value


def concurrent_reads(urls: list[str], *, clients: int, reads: int, headers=None, cookies=None) -> dict:
    """``reads`` GETs in all by ``clients`` concurrent clients, each cycling through ``urls``."""
    per_client = [reads // clients + (1 if n < reads % clients else 0) for n in range(clients)]
    statuses = Counter()

    def client_run(number: int) -> list[float]:
        timings = []
        with httpx.Client(timeout=REQUEST_TIMEOUT_S, headers=headers, cookies=cookies) as client:
            for index in range(per_client[number]):
                url = urls[(number + index) % len(urls)]
                started = time.perf_counter()
                try:
                    status = client.get(url).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                timings.append(time.perf_counter() - started)
                statuses[str(status)] += 1
        return timings

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        timings = [seconds for batch in pool.map(client_run, range(clients)) for seconds in batch]
    return {"timings": timings, "statuses": dict(statuses), "seconds": time.perf_counter() - started}


# --- websockets -----------------------------------------------------------------------------------
# A minimal RFC 6455 client (handshake, unmasked server frames, masked pong and close): the
# project has no websocket client library, and the benchmark needs nothing more.


def _client_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


async def _ws_open(base_url: str, path: str, cookie: str):
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {base_url}\r\nCookie: {cookie}\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"101":
        writer.close()
        raise ConnectionError(f"Websocket abgelehnt: {status.decode()}")
    return reader, writer


async def _ws_messages(reader, writer):
    """Yield the text messages of one connection until the server closes it."""
    while True:
        first, second = await reader.readexactly(2)
        opcode, length = first & 0x0F, second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(length)
        if opcode == 0x1:
            yield payload.decode()
        elif opcode == 0x9:  # ping: daphne closes connections that do not answer
            writer.write(_client_frame(0xA, payload))
            await writer.drain()
        elif opcode == 0x8:
            return


def websocket_fanout(
    base_url: str, *, watchers: list[tuple[str, int]], document_events: list, publish, settle_s: float = 5.0
) -> dict:
    """Connect ``count`` websockets per (cookie, count) in ``watchers``, publish ``document_events``
    (``documents.events.DocumentEvent``, each carrying a unique ``message``) through ``publish``,
    and return per watcher group what arrived and how long after publishing."""
    received: dict[int, list[tuple[str, float]]] = {index: [] for index in range(len(watchers))}
    connected = Counter()
    failures: list[str] = []
    stop = threading.Event()
    all_connected = threading.Event()
    total = sum(count for _cookie, count in watchers)

    async def watch(group: int, cookie: str):
        try:
            reader, writer = await asyncio.wait_for(_ws_open(base_url, "/ws/documents/", cookie), REQUEST_TIMEOUT_S)
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            failures.append(str(exc) or type(exc).__name__)
            return
        connected[group] += 1
        if sum(connected.values()) + len(failures) == total:
            all_connected.set()
        try:
            async for text in _ws_messages(reader, writer):
                message = json.loads(text)
                if message.get("type") == "document":
                    received[group].append((message.get("message", ""), time.perf_counter()))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main():
        tasks = [
            asyncio.create_task(watch(group, cookie))
            for group, (cookie, count) in enumerate(watchers)
            for _ in range(count)
        ]
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    loop_thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    loop_thread.start()
    try:
        all_connected.wait(timeout=60)
        time.sleep(0.5)  # the last consumers join their groups right after accepting
        sent_at = {}
        for event in document_events:
            sent_at[event.message] = time.perf_counter()
            publish(event)
            time.sleep(0.02)
        time.sleep(settle_s)
    finally:
        stop.set()
        loop_thread.join(timeout=30)
    groups = []
    for index, (_cookie, count) in enumerate(watchers):
        latencies = [at - sent_at[marker] for marker, at in received[index] if marker in sent_at]
        groups.append({"clients": count, "connected": connected[index], "received": latencies})
    return {"groups": groups, "failures": failures[:5], "failed": len(failures), "events": len(document_events)}


# --- sustained load ---------------------------------------------------------------------------------


def worker_rss_bytes() -> int | None:
    """Resident memory of the live workers on this machine: main process plus pool children."""
    from datetime import timedelta

    from django.utils import timezone

    from monitoring.models import WorkerHeartbeat

    pids = WorkerHeartbeat.objects.filter(
        stopping=False, last_seen_at__gte=timezone.now() - timedelta(seconds=90), pid__isnull=False
    ).values_list("pid", flat=True)
    total, seen = 0, False
    for pid in pids:
        for member in [pid, *_children(pid)]:
            try:
                status = Path(f"/proc/{member}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    seen = True
    return total if seen else None


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def paced_uploads(
    base_url: str,
    key: str,
    *,
    rate_per_s: float,
    seconds: float,
    make_file,
    readers: int = 0,
    sample_every_s: float = 5.0,
) -> dict:
    """Upload at ``rate_per_s`` for ``seconds``; sample the queue and the workers' memory.

    An upload answered 429/503 waits as long as its Retry-After says (1 s without one) and is
    sent again, until the phase ends; then it counts as refused. ``readers`` clients read the
    document list all along.
    """
    from documents.models import Document

    headers = {"Authorization": f"Api-Key {key}"}
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    accepted: list[str] = []
    outcome = Counter()
    busy = Counter()
    upload_times: list[float] = []
    read_times: list[float] = []
    read_statuses = Counter()
    samples: list[dict] = []
    done = threading.Event()

    def upload(number: int) -> None:
        filename, data = make_file(number)
        with httpx.Client(timeout=REQUEST_TIMEOUT_S, headers=headers) as client:
            while True:
                started = time.perf_counter()
                try:
                    response = client.post(f"{base_url}/api/v1/documents/", files={"file": (filename, data)})
                except httpx.HTTPError as exc:
                    with lock:
                        outcome[type(exc).__name__] += 1
                    return
                with lock:
                    upload_times.append(time.perf_counter() - started)
                if response.status_code == 202:
                    with lock:
                        accepted.append(response.json()["id"])
                        outcome["202"] += 1
                    return
                if response.status_code not in (429, 503):
                    with lock:
                        outcome[str(response.status_code)] += 1
                    return
                retry_after = response.headers.get("Retry-After")
                with lock:
                    busy[f"{response.status_code} mit Retry-After" if retry_after else str(response.status_code)] += 1
                try:
                    wait = float(retry_after) if retry_after else 1.0
                except ValueError:
                    wait = 1.0
                if time.monotonic() + wait > deadline:
                    with lock:
                        outcome["abgewiesen"] += 1
                    return
                time.sleep(wait)

    def read_loop() -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT_S, headers=headers) as client:
            while not done.is_set():
                started = time.perf_counter()
                try:
                    status = client.get(f"{base_url}/api/v1/documents/?page_size=25").status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                with lock:
                    read_times.append(time.perf_counter() - started)
                    read_statuses[str(status)] += 1

    def sample_loop() -> None:
        started = time.monotonic()
        try:
            while not done.wait(sample_every_s):
                with lock:
                    ids = list(accepted)
                samples.append(
                    {
                        "second": round(time.monotonic() - started, 1),
                        "in_queue": Document.objects.filter(id__in=ids, status__in=IN_FLIGHT).count(),
                        "worker_rss": worker_rss_bytes(),
                    }
                )
        finally:
            connection.close()

    side = [threading.Thread(target=sample_loop, daemon=True)]
    side += [threading.Thread(target=read_loop, daemon=True) for _ in range(readers)]
    for thread in side:
        thread.start()
    started = time.monotonic()
    planned = max(1, int(rate_per_s * seconds))
    with ThreadPoolExecutor(max_workers=64) as pool:
        for number in range(planned):
            # Open loop: the next upload leaves on schedule whether or not the last one came back.
            delay = started + number / rate_per_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(upload, number)
        remaining = deadline - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
    done.set()
    for thread in side:
        thread.join(timeout=REQUEST_TIMEOUT_S + 5)
    return {
        "planned": planned,
        "accepted_ids": accepted,
        "outcome": dict(outcome),
        "busy": dict(busy),
        "upload_times": upload_times,
        "read_times": read_times,
        "read_statuses": dict(read_statuses),
        "samples": samples,
        "seconds": time.monotonic() - started,
    }


def new_marker() -> str:
    return f"bench-{uuid.uuid4().hex[:12]}"
