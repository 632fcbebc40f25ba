"""Serve Ablage with several daphne processes on one listening socket: ``python -m ablage.serve``.

Why: Django's synchronous views run under ASGI one after another in a daphne process (the
handler runs them thread-sensitive, on one thread), so one daphne answers one request at a
time. This launcher binds the socket once and starts ``--processes`` daphnes on it with
``daphne --fd``; the kernel hands each new connection to one of them. Websockets keep
working across processes because live updates go through the channel layer (Redis) or, in
the embedded default without a channel layer, through polling of the same database.

The launcher
- starts every daphne in its own session, so that Ctrl-C reaches only the launcher and each
  daphne gets exactly one signal,
- forwards SIGINT/SIGTERM (SIGHUP becomes SIGTERM) and waits up to ``--stop-timeout`` for the
  daphnes to finish their requests, then kills what is left; a second signal kills at once,
- replaces a daphne that died on its own; one that dies within ``QUICK_DEATH_S`` of its start
  ``MAX_QUICK_DEATHS`` times in a row (a broken configuration) stops the launcher non-zero
  instead of restarting it forever.

It imports nothing from Django: the daphnes load the application themselves.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
QUICK_DEATH_S = 5.0
MAX_QUICK_DEATHS = 5
APPLICATION = "ablage.asgi:application"


def default_processes() -> int:
    """ABLAGE_WEB_PROCESSES, else min(4, CPU count); a bad value is an error, not a silent 1."""
    raw = os.environ.get("ABLAGE_WEB_PROCESSES", "").strip()
    if not raw:
        return max(1, min(4, os.cpu_count() or 1))
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"ABLAGE_WEB_PROCESSES muss eine ganze Zahl sein, nicht {raw!r}.") from None
    if not 1 <= value <= 64:
        raise SystemExit("ABLAGE_WEB_PROCESSES muss zwischen 1 und 64 liegen.")
    return value


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    # Twisted adopts the socket as it is: it must already listen. The backlog holds the
    # connections that arrive while every daphne is busy.
    listener.listen(1024)
    listener.set_inheritable(True)
    return listener


def _log(message: str) -> None:
    print(f"[ablage-serve] {message}", file=sys.stderr, flush=True)


@dataclass
class _Slot:
    number: int
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_deaths: int = 0


def serve(
    listener: socket.socket,
    *,
    processes: int,
    daphne_args: Sequence[str] = (),
    stop_timeout: float = 30.0,
    poll_interval: float = 0.2,
) -> int:
    """Run ``processes`` daphnes on ``listener`` until a signal arrives; return the exit code."""
    received: list[int] = []
    previous_handlers = {
        signum: signal.signal(signum, lambda signum, _frame: received.append(signum)) for signum in FORWARDED_SIGNALS
    }
    fd = listener.fileno()
    argv = [sys.executable, "-m", "daphne", "--fd", str(fd), *daphne_args, APPLICATION]
    slots = [_Slot(number) for number in range(processes)]

    def start(slot: _Slot) -> None:
        slot.process = subprocess.Popen(argv, pass_fds=(fd,), start_new_session=True)
        slot.started_at = time.monotonic()
        _log(f"daphne {slot.number + 1}/{processes} gestartet (PID {slot.process.pid})")

    try:
        for slot in slots:
            start(slot)
        while True:
            if received:
                signum = received[0]
                forwarded = signal.SIGTERM if signum == signal.SIGHUP else signum
                _log(f"{signal.Signals(signum).name} empfangen, beende alle daphne-Prozesse")
                _stop(slots, forwarded, received, stop_timeout, poll_interval)
                return 0
            for slot in slots:
                code = slot.process.poll()
                if code is None:
                    continue
                lived = time.monotonic() - slot.started_at
                slot.quick_deaths = slot.quick_deaths + 1 if lived < QUICK_DEATH_S else 0
                if slot.quick_deaths >= MAX_QUICK_DEATHS:
                    _log(f"daphne {slot.number + 1} stirbt immer wieder gleich nach dem Start, gebe auf")
                    _stop(slots, signal.SIGTERM, received, stop_timeout, poll_interval)
                    return code if code > 0 else 1
                _log(f"daphne {slot.number + 1} ist beendet (Exit-Code {code}) und wird ersetzt")
                # A back-off only for repeated quick deaths: one crash is replaced at once.
                time.sleep(min(0.5 * slot.quick_deaths, 2.0))
                start(slot)
            time.sleep(poll_interval)
    finally:
        for slot in slots:
            if slot.process is not None and slot.process.poll() is None:
                slot.process.kill()
                slot.process.wait()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


def _stop(slots, signum, received, stop_timeout, poll_interval):
    handled_signals = len(received)
    running = [slot.process for slot in slots if slot.process is not None]
    for process in running:
        if process.poll() is None:
            process.send_signal(signum)
    deadline = time.monotonic() + stop_timeout
    while any(process.poll() is None for process in running):
        if time.monotonic() > deadline or len(received) > handled_signals:
            for process in running:
                if process.poll() is None:
                    _log(f"daphne (PID {process.pid}) reagiert nicht, wird beendet (SIGKILL)")
                    process.kill()
            break
        time.sleep(poll_interval)
    for process in running:
        process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", "-b", default="127.0.0.1")
    parser.add_argument("--port", "-p", type=int, default=os.environ.get("PORT", "8000"))
    parser.add_argument(
        "--processes", type=int, help="daphne-Prozesse (Standard: ABLAGE_WEB_PROCESSES, sonst min(4, CPU-Kerne))"
    )
    parser.add_argument("--stop-timeout", type=float, default=30.0, help="Sekunden für laufende Anfragen beim Beenden")
    parser.add_argument("daphne_args", nargs="*", help="weitere daphne-Optionen nach --, z. B. -- --proxy-headers")
    args = parser.parse_args(argv)
    processes = args.processes if args.processes is not None else default_processes()
    if processes < 1:
        parser.error("--processes muss mindestens 1 sein.")
    try:
        listener = bind_socket(args.host, args.port)
    except OSError as exc:
        _log(f"{args.host}:{args.port} kann nicht gebunden werden: {exc}")
        return 2
    _log(f"lauscht auf {args.host}:{args.port} mit {processes} daphne-Prozessen")
    with listener:
        return serve(listener, processes=processes, daphne_args=args.daphne_args, stop_timeout=args.stop_timeout)


if __name__ == "__main__":
    sys.exit(main())
