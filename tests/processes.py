"""Real processes for the fault scenarios: a private redis-server, a private PostgreSQL cluster,
Celery workers and a daphne web server with their own environment, and a way to point this test
process's Celery producer at another broker.

Only loopback, only free ports; the shared Redis on 6379 is never touched.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import redis
from django.conf import settings

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """redis-server on a free loopback port, without persistence: a restart loses every message,
    which is the worst case a broker restart can bring."""

    def __init__(self):
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="ablage-fault-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", self.directory]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None


class PostgresCluster:
    """A private PostgreSQL cluster (initdb, pg_ctl) on a free loopback port with trust auth, so a
    test may stop and start it. initdb refuses to run as root: then it runs as the postgres user."""

    BIN = Path(os.environ.get("ABLAGE_PG_BIN", "/usr/lib/postgresql/15/bin"))

    def __init__(self):
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="ablage-fault-pg-"))
        self.data = self.directory / "data"
        self.running = False
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")

    @classmethod
    def missing(cls) -> str:
        """Why no cluster can be made here ("" when one can)."""
        tools = [cls.BIN / name for name in ("initdb", "pg_ctl", "pg_dump", "pg_restore")]
        absent = [str(tool) for tool in tools if not tool.exists()]
        if absent:
            return f"PostgreSQL server binaries absent: {', '.join(absent)} (set ABLAGE_PG_BIN)"
        if os.geteuid() == 0 and not shutil.which("runuser"):
            return "running as root without runuser: initdb cannot run"
        return ""

    def _as_owner(self, *command: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"{command[0]} failed:\n{done.stdout}{done.stderr}")

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def init(self) -> "PostgresCluster":
        initdb = str(self.BIN / "initdb")
        self._as_owner(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        # fsync off: the cluster lives for one test; "stop -m fast" still shuts down cleanly.
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off"
        log = str(self.directory / "postgres.log")
        self._as_owner(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
        self.running = True

    def stop(self, *, mode: str = "fast") -> None:
        self._as_owner(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def copy_database(self, source_url: str) -> None:
        """The database at ``source_url`` (schema and rows) into this cluster, under its name."""
        dump = subprocess.run(
            [str(self.BIN / "pg_dump"), "--format=custom", "--no-owner", f"--dbname={source_url}"],
            capture_output=True,
            timeout=120,
            check=True,
        )
        subprocess.run(
            [str(self.BIN / "pg_restore"), "--no-owner", "--create", f"--dbname={self.url('postgres')}"],
            input=dump.stdout,
            capture_output=True,
            timeout=120,
            check=True,
        )

    def destroy(self) -> None:
        if self.running:
            with contextlib.suppress(Exception):
                self.stop(mode="immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def database_at(*, port: int):
    """This process's ORM on the database of the same name served at ``port`` (a PostgresCluster)."""
    from django.db import connection

    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(port))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


class WebServer:
    """daphne (the production server) on a free loopback port with the test settings."""

    def __init__(self, *, env: dict | None = None):
        self.port = free_port()
        self.log_path = Path(settings.DATA_DIR) / f"web-{self.port}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ablage.settings_test",
            "ABLAGE_TEST_DB_NAME": str(settings.DATABASES["default"]["NAME"]),
            "ABLAGE_DATA_DIR": str(settings.DATA_DIR),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 60) -> "WebServer":
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "ablage.asgi:application"]
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"daphne did not start:\n{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, size: int = 4000) -> str:
        return self.log_path.read_text()[-size:]

    def stop(self, *, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class Worker:
    """A ``celery worker`` process (prefork) for all queues on the test database and data directory."""

    def __init__(self, *, env: dict | None = None, concurrency: int = 1):
        self.log_path = Path(settings.DATA_DIR) / f"worker-{uuid.uuid4().hex[:8]}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ablage.settings_test",
            "ABLAGE_TEST_DB_NAME": str(settings.DATABASES["default"]["NAME"]),
            "ABLAGE_DATA_DIR": str(settings.DATA_DIR),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None

    def start(self, *, timeout: float = 60) -> "Worker":
        command = [sys.executable, "-m", "celery", "-A", "ablage", "worker", "-Q", ",".join(settings.ABLAGE_QUEUES)]
        command += [
            "--concurrency",
            str(self.concurrency),
            "--pool",
            "prefork",
            "-n",
            f"fault-{uuid.uuid4().hex[:8]}@%h",
        ]
        command += ["--without-gossip", "--without-mingle", "--loglevel", "INFO"]
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while "ready." not in self.log_path.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"Celery worker did not start:\n{self.log_tail()}")
            time.sleep(0.2)
        return self

    def children(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in found.stdout.split()]

    def log_tail(self, size: int = 4000) -> str:
        return self.log_path.read_text()[-size:]

    def kill(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, *, timeout: float = 30) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            self.kill()


@contextlib.contextmanager
def producer_broker(url: str):
    """Send this process's tasks (``.delay()`` on commit) to ``url`` instead of the configured broker."""
    from ablage.celery import app

    def forget_pools():
        # kombu keeps its pools per connection in a registry: the old ones stay usable for later.
        app._pool = None
        app.amqp._producer_pool = None

    previous = app.conf.broker_write_url if "broker_write_url" in app.conf else None
    forget_pools()
    app.conf.broker_write_url = url  # what .delay() publishes to (Celery reads it before broker_url)
    try:
        yield app
    finally:
        forget_pools()
        app.conf.broker_write_url = previous


def terminate_other_sessions() -> int:
    """pg_terminate_backend for every other session on the test database (the workers' connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


class TcpSwitch:
    """A loopback TCP relay in front of a server that the test switches off and on again: while
    off, connections to its port are refused and open ones are cut, as when the server's host
    is down; the server behind it (and what it holds in memory) lives on."""

    def __init__(self, target_port: int):
        self.port = free_port()
        self.target_port = target_port
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)  # so that the accept loop notices off() within a tenth of a second
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def off(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
