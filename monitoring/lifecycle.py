"""Process lifecycle: "shutting down" as seen by /health/live, and how we learn about it.

Daphne runs on Twisted, which owns SIGTERM/SIGINT and stops its reactor on them; we hook in
*before* the reactor stops, so the load balancer sees 503 on /health/live while in-flight
requests finish. Other servers get a chained SIGTERM handler. Celery workers do their own
warm shutdown on SIGTERM (finish the running task, take no new one); their heartbeat row
says "stopping" meanwhile.
"""

import signal
import sys
import threading

_shutting_down = threading.Event()


def shutting_down() -> bool:
    return _shutting_down.is_set()


def mark_shutting_down() -> None:
    _shutting_down.set()


def install_shutdown_hooks() -> None:
    """Called once from the ASGI application module."""
    if "twisted.internet.reactor" in sys.modules:
        from twisted.internet import reactor

        reactor.addSystemEventTrigger("before", "shutdown", mark_shutting_down)
        return
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        mark_shutting_down()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
