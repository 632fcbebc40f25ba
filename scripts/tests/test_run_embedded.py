"""The embedded supervisor: one signal in, one signal to every child; one child dies, all stop."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from django.conf import settings

from scripts.run_embedded import Child, embedded_children, supervise

REPO_ROOT = Path(__file__).resolve().parents[2]

# A stand-in for daphne/celery: logs "started" and every signal it receives, and exits
# half a second after the first one so that a duplicate signal would still be logged.
CHILD_SOURCE = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path

    log = Path(sys.argv[1])
    ignore_stop = len(sys.argv) > 2 and sys.argv[2] == "ignore"
    stop_at = None

    def record(signum, frame):
        global stop_at
        with log.open("a") as handle:
            handle.write(signal.Signals(signum).name + "\\n")
        if not ignore_stop and stop_at is None:
            stop_at = time.monotonic() + 0.5

    signal.signal(signal.SIGTERM, record)
    signal.signal(signal.SIGINT, record)
    log.write_text("started\\n")
    while stop_at is None or time.monotonic() < stop_at:
        time.sleep(0.05)
    """
)


def _child(tmp_path, name, *extra):
    script = tmp_path / "child.py"
    script.write_text(CHILD_SOURCE)
    return Child(name, [sys.executable, str(script), str(tmp_path / f"{name}.log"), *extra])


def _wait_until_started(*logs, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(log.exists() and log.read_text().startswith("started") for log in logs):
            return
        time.sleep(0.05)
    raise AssertionError(f"children did not start: {logs}")


def _supervisor_process(tmp_path, children):
    program = (
        "import sys\n"
        "from scripts.run_embedded import Child, supervise\n"
        f"sys.exit(supervise([Child(n, a) for n, a in {[(c.name, c.argv) for c in children]!r}], stop_timeout=10))\n"
    )
    # Its own session, so that os.killpg() below plays the terminal's Ctrl-C for its group.
    return subprocess.Popen([sys.executable, "-c", program], cwd=REPO_ROOT, start_new_session=True)


def test_it_stops_the_other_children_and_fails_when_one_child_dies(tmp_path):
    survivor = _child(tmp_path, "web")
    crashing = Child("worker", [sys.executable, "-c", "import time, sys; time.sleep(0.5); sys.exit(3)"])

    started = time.monotonic()
    code = supervise([survivor, crashing], stop_timeout=10, poll_interval=0.05)

    assert code == 3
    assert (tmp_path / "web.log").read_text().splitlines() == ["started", "SIGTERM"]
    assert time.monotonic() - started < 8


def test_it_fails_even_when_the_dead_child_exited_with_zero(tmp_path):
    code = supervise([_child(tmp_path, "web"), Child("worker", [sys.executable, "-c", "pass"])], poll_interval=0.05)

    assert code == 1


def test_it_forwards_ctrl_c_exactly_once_to_every_child_and_exits_cleanly(tmp_path):
    children = [_child(tmp_path, "web"), _child(tmp_path, "worker")]
    supervisor = _supervisor_process(tmp_path, children)
    _wait_until_started(tmp_path / "web.log", tmp_path / "worker.log")

    os.killpg(supervisor.pid, signal.SIGINT)

    assert supervisor.wait(timeout=15) == 0
    for name in ("web", "worker"):
        assert (tmp_path / f"{name}.log").read_text().splitlines() == ["started", "SIGINT"]


def test_it_turns_sighup_into_sigterm_for_the_children(tmp_path):
    supervisor = _supervisor_process(tmp_path, [_child(tmp_path, "worker")])
    _wait_until_started(tmp_path / "worker.log")

    supervisor.send_signal(signal.SIGHUP)

    assert supervisor.wait(timeout=15) == 0
    assert (tmp_path / "worker.log").read_text().splitlines() == ["started", "SIGTERM"]


def test_it_kills_a_child_that_ignores_the_stop_signal(tmp_path):
    stubborn = _child(tmp_path, "worker", "ignore")
    crashing = Child("web", [sys.executable, "-c", "import time; time.sleep(0.5)"])

    started = time.monotonic()
    code = supervise([stubborn, crashing], stop_timeout=1, poll_interval=0.05)

    assert code == 1
    assert (tmp_path / "worker.log").read_text().splitlines() == ["started", "SIGTERM"]
    assert time.monotonic() - started < 8


def test_it_announces_readiness_once(tmp_path):
    announcements = []
    checks = iter([False, False, True])

    code = supervise(
        [Child("worker", [sys.executable, "-c", "import time; time.sleep(1)"])],
        ready=lambda: next(checks, True),
        on_ready=lambda: announcements.append("ready"),
        poll_interval=0.05,
    )

    assert code == 1
    assert announcements == ["ready"]


def test_it_runs_web_and_a_worker_for_every_queue_from_the_venv(tmp_path):
    children = embedded_children(bin_dir=tmp_path, host="127.0.0.1", port=8123, concurrency=2, beat=False)

    web, worker = children
    assert web.argv == [
        *[str(tmp_path / "python"), "-m", "ablage.serve", "--host", "127.0.0.1", "--port", "8123"],
        *["--processes", "2"],
    ]
    assert worker.argv[:4] == [str(tmp_path / "celery"), "-A", "ablage", "worker"]
    queues = worker.argv[worker.argv.index("-Q") + 1].split(",")
    # Every queue the settings route to must have a consumer in the embedded install.
    assert sorted(queues) == sorted(settings.ABLAGE_QUEUES)
