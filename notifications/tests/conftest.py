"""Real receivers on loopback: an HTTP server in a thread (webhooks) and aiosmtpd (e-mail)."""

import ipaddress
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from ablage import net
from documents.models import Document

RECEIVER_HOST = "receiver.test"


def make_document(owner, *, title="Rechnung RE-1", status=Document.Status.REVIEW, **fields):
    return Document.objects.create(
        owner=owner,
        title=title,
        original_filename=f"{title}.pdf",
        mime_type="application/pdf",
        file_size=1,
        sha256="0" * 64,
        storage_key=f"originals/{uuid.uuid4()}.pdf",
        status=status,
        **{"overall_confidence": 0.7, **fields},
    )


@dataclass
class Reply:
    status: int = 200
    delay: float = 0.0
    headers: dict = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


class Receiver:
    """Answers with the scripted replies in order (the last one repeats) and records every request."""

    def __init__(self, port: int = 0):
        self.script: list[Reply] = [Reply()]
        self.requests: list[Received] = []
        self.processed_ids: list[str] = []  # what a receiver that de-duplicates by webhook-id processes
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                index = len(receiver.requests)
                receiver.requests.append(Received(self.path, dict(self.headers), body))
                reply = receiver.script[min(index, len(receiver.script) - 1)]
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                try:
                    self.wfile.write(b"ok")
                except OSError:
                    return  # the sender gave up waiting (timeout test)
                message_id = self.headers.get("webhook-id")
                if 200 <= reply.status < 300 and message_id not in receiver.processed_ids:
                    receiver.processed_ids.append(message_id)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook") -> str:
        return f"http://{RECEIVER_HOST}:{self.port}{path}"

    def close(self):
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def _resolver(mapping: dict[str, list[str]]):
    def resolve(host, port):
        if host in mapping:
            return mapping[host]
        return net.system_resolver(host, port)

    return resolve


@pytest.fixture
def loopback_guard(receiver):
    """The test hostname points at the loopback receiver, and exactly that address is allowed."""
    return net.UrlGuard(
        resolver=_resolver({RECEIVER_HOST: ["127.0.0.1"]}),
        allowed_ports=frozenset({80, 443, receiver.port}),
        allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),),
    )


@pytest.fixture
def production_guard():
    """The guard as deployed (nothing opened), with DNS answers the test controls."""
    return net.UrlGuard(
        resolver=_resolver(
            {
                "internal.example.com": ["10.0.0.1"],
                "public.example.com": ["93.184.215.14"],
                "mixed.example.com": ["93.184.215.14", "192.168.1.10"],
            }
        ),
        allowed_ports=frozenset({80, 443}),
    )


class SmtpRecorder:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """aiosmtpd on a fixed loopback port that can be stopped and started again (an outage)."""

    def __init__(self, port: int):
        self.port = port
        self.recorder = SmtpRecorder()
        self.controller = None

    def start(self):
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return self.recorder.messages


@pytest.fixture
def smtp_server(settings):
    server = SmtpServer(free_port())
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.stop()
