"""scripts/ensure-system-packages.sh: apt only for what is missing, sudo only when not root.

dpkg is the real one (these scripts target Debian); apt-get, sudo and id are stand-ins on
PATH that record how they were called, because a test must not install packages.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "ensure-system-packages.sh"
MISSING = "ablage-test-package-that-does-not-exist"

pytestmark = pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs Debian's dpkg")


@pytest.fixture
def stubs(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    recorder = f'#!/bin/sh\necho "$(basename "$0") DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> {calls}\n'
    (bin_dir / "apt-get").write_text(recorder)
    # sudo records itself and then runs the command, as the real one would.
    (bin_dir / "sudo").write_text(recorder + 'exec "$@"\n')
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    return bin_dir, calls


def _run(bin_dir, *packages, uid="0"):
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (bin_dir / "id").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("DEBIAN_FRONTEND", None)
    return subprocess.run([str(SCRIPT), *packages], env=env, capture_output=True, text=True, timeout=60)


def _installed_package():
    status = subprocess.run(["dpkg", "-s", "bash"], capture_output=True, text=True)
    assert "Status: install ok installed" in status.stdout
    return "bash"


def test_it_does_not_touch_apt_when_every_package_is_installed(stubs):
    bin_dir, calls = stubs

    result = _run(bin_dir, _installed_package())

    assert result.returncode == 0, result.stderr
    assert not calls.exists()


def test_it_updates_once_and_installs_only_the_missing_packages(stubs):
    bin_dir, calls = stubs

    result = _run(bin_dir, _installed_package(), MISSING)

    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == [
        "apt-get DEBIAN_FRONTEND=noninteractive update -q",
        f"apt-get DEBIAN_FRONTEND=noninteractive install -y -q --no-install-recommends {MISSING}",
    ]


def test_it_goes_through_sudo_when_not_root(stubs):
    bin_dir, calls = stubs

    result = _run(bin_dir, MISSING, uid="1000")

    assert result.returncode == 0, result.stderr
    lines = calls.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["sudo", "apt-get", "sudo", "apt-get"]


def test_it_explains_that_root_is_needed_when_there_is_no_sudo(stubs):
    bin_dir, calls = stubs
    (bin_dir / "sudo").unlink()
    if shutil.which("sudo", path=os.environ["PATH"]):
        pytest.skip("a real sudo is installed on this machine")

    result = _run(bin_dir, MISSING, uid="1000")

    assert result.returncode != 0
    assert "root-Rechte" in result.stderr
    assert not calls.exists()


def test_it_refuses_to_run_without_package_names():
    result = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "Aufruf" in result.stderr
