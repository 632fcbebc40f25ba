"""Run the embedded Ablage: web server, Celery worker and beat as children of one process.

``make run`` ends here. The embedded default needs neither PostgreSQL nor Redis: SQLite and
the file-system broker under ``data/`` (see ``ablage/settings.py``). This process

- starts every child in its own session, so that Ctrl-C reaches only this supervisor and
  each child gets exactly one signal (Celery treats a second SIGINT as "cold shutdown"),
- forwards SIGINT/SIGTERM (SIGHUP becomes SIGTERM) to all children and waits for them;
  a second signal kills them,
- stops everything and exits non-zero as soon as one child dies on its own: a web server
  without a worker would accept uploads that are never processed,
- prints the URL once the web server accepts connections.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
QUEUES = "default,ocr_cpu,ocr_gpu,extract,notify"
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Child:
    name: str
    argv: list[str]


def embedded_children(
    *, bin_dir: Path, host: str, port: int, concurrency: int, beat: bool, web_processes: int = 2
) -> list[Child]:
    # Several daphnes on one socket (ablage.serve): one daphne answers one request at a time.
    # The embedded default has no channel layer (live updates poll the database), so nothing
    # ties a browser to one process.
    web = [str(bin_dir / "python"), "-m", "ablage.serve", "--host", host, "--port", str(port)]
    children = [
        Child("web", [*web, "--processes", str(web_processes)]),
        Child(
            "worker",
            [
                str(bin_dir / "celery"),
                "-A",
                "ablage",
                "worker",
                "-Q",
                QUEUES,
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
            ],
        ),
    ]
    if beat:
        # Periodic tasks live in the database (django-celery-beat), editable in the admin;
        # without beat they would silently never run.
        children.append(Child("beat", [str(bin_dir / "celery"), "-A", "ablage", "beat", "--loglevel", "INFO"]))
    return children


def port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _log(message: str) -> None:
    print(f"[run-embedded] {message}", file=sys.stderr, flush=True)


def supervise(
    children: Sequence[Child],
    *,
    ready: Callable[[], bool] | None = None,
    on_ready: Callable[[], None] | None = None,
    stop_timeout: float = 30.0,
    poll_interval: float = 0.2,
) -> int:
    """Run ``children`` until one exits or a signal arrives; return the supervisor's exit code.

    0 after a requested stop; the dead child's exit code (at least 1) when a child died.
    """
    received: list[int] = []
    previous_handlers = {
        signum: signal.signal(signum, lambda signum, _frame: received.append(signum)) for signum in FORWARDED_SIGNALS
    }
    processes: dict[str, subprocess.Popen] = {}
    try:
        for child in children:
            processes[child.name] = subprocess.Popen(child.argv, cwd=REPO_ROOT, start_new_session=True)
            _log(f"{child.name} gestartet (PID {processes[child.name].pid}): {' '.join(child.argv)}")

        announced = ready is None
        while True:
            if received:
                signum = received[0]
                forwarded = signal.SIGTERM if signum == signal.SIGHUP else signum
                _log(f"{signal.Signals(signum).name} empfangen, beende alle Prozesse")
                _stop(processes, forwarded, received, stop_timeout, poll_interval)
                return 0
            for name, process in processes.items():
                code = process.poll()
                if code is not None:
                    _log(f"{name} ist beendet (Exit-Code {code}), beende die übrigen Prozesse")
                    _stop(processes, signal.SIGTERM, received, stop_timeout, poll_interval)
                    return code if code > 0 else 1
            if not announced and ready():
                announced = True
                if on_ready is not None:
                    on_ready()
            time.sleep(poll_interval)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


def _stop(processes, signum, received, stop_timeout, poll_interval):
    handled_signals = len(received)
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signum)
    deadline = time.monotonic() + stop_timeout
    while any(process.poll() is None for process in processes.values()):
        # A second Ctrl-C means "now": do not make the user wait out a long OCR task.
        if time.monotonic() > deadline or len(received) > handled_signals:
            for name, process in processes.items():
                if process.poll() is None:
                    _log(f"{name} reagiert nicht, wird beendet (SIGKILL)")
                    process.kill()
            break
        time.sleep(poll_interval)
    for process in processes.values():
        process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    # String defaults go through `type` too: PORT=abc ends in a usage error, not a traceback.
    parser.add_argument("--port", type=int, default=os.environ.get("PORT", "8000"))
    parser.add_argument("--concurrency", type=int, default=os.environ.get("CONCURRENCY", "2"))
    parser.add_argument(
        "--web-processes",
        type=int,
        default=os.environ.get("ABLAGE_WEB_PROCESSES", "2"),
        help="daphne-Prozesse (Standard: ABLAGE_WEB_PROCESSES, sonst 2)",
    )
    parser.add_argument("--no-beat", dest="beat", action="store_false", help="celery beat nicht starten")
    args = parser.parse_args(argv)

    url = f"http://{args.host}:{args.port}/"
    if port_accepts(args.host, args.port):
        # Otherwise the banner would point at whatever already listens there.
        _log(f"Port {args.port} ist bereits belegt. Anderen Port wählen, z. B.: PORT={args.port + 1} make run")
        return 2
    children = embedded_children(
        bin_dir=Path(sys.executable).parent,
        host=args.host,
        port=args.port,
        concurrency=args.concurrency,
        beat=args.beat,
        web_processes=args.web_processes,
    )
    return supervise(
        children,
        ready=lambda: port_accepts(args.host, args.port),
        on_ready=lambda: _log(f"Ablage läuft: {url}  (Beenden mit Strg+C)"),
    )


if __name__ == "__main__":
    sys.exit(main())
