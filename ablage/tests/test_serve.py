"""The web launcher (ablage.serve): N real daphnes on one socket, each serving; a dead one is
replaced; SIGTERM stops them all."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from ablage.serve import default_processes
from tests.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def _wait_for(condition, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(message)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _only_this_one_serves(url: str, serving: int, others: set[int]) -> bool:
    """With every other daphne frozen, a request can only be answered by ``serving``."""
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        # Fresh connections each time: the kernel queues them until a daphne accepts.
        return all(_answers(url) for _ in range(3))
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)


@pytest.fixture
def launcher(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
        "ABLAGE_TEST_DB_NAME": str(settings.DATABASES["default"]["NAME"]),
    }
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "ablage.serve", "--port", str(port), "--processes", "2", "--stop-timeout", "10"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
        # The daphnes run in their own sessions: a killed launcher would leave them behind.
        for line in (tmp_path / "serve.log").read_text().splitlines():
            if "gestartet (PID " in line:
                pid = int(line.split("PID ")[1].rstrip(")"))
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_it_serves_from_every_process_replaces_a_dead_one_and_stops_all_on_sigterm(launcher):
    process, url = launcher
    started = _wait_for(lambda: len(children := _children(process.pid)) == 2 and children, 20, "two daphnes")
    first, second = sorted(started)
    _wait_for(lambda: _answers(url), 60, "the launcher never answered")

    assert _only_this_one_serves(url, first, {second})
    assert _only_this_one_serves(url, second, {first})

    os.kill(first, signal.SIGKILL)
    replaced = _wait_for(
        lambda: (children := _children(process.pid)) and len(children) == 2 and first not in children and children,
        20,
        "the killed daphne was not replaced",
    )
    (replacement,) = replaced - {second}
    # The replacement serves on the same socket once it has loaded Django.
    _wait_for(lambda: _only_this_one_serves(url, replacement, {second}), 60, "the replacement never served")

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    for pid in (second, replacement):
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert not _answers(url)


def test_it_reads_the_process_count_from_the_environment(monkeypatch):
    monkeypatch.setenv("ABLAGE_WEB_PROCESSES", "3")
    assert default_processes() == 3
    monkeypatch.delenv("ABLAGE_WEB_PROCESSES")
    assert default_processes() == max(1, min(4, os.cpu_count() or 1))
    monkeypatch.setenv("ABLAGE_WEB_PROCESSES", "viele")
    with pytest.raises(SystemExit, match="ganze Zahl"):
        default_processes()
