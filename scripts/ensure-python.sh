#!/usr/bin/env bash
# Make sure python3.11 with a working venv module is available (Debian 12: python3.11-venv).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# Debian's python3.11 ships without ensurepip; `python3.11 -m venv` then fails half-way, so
# test the module, not only the binary.
if command -v python3.11 >/dev/null 2>&1 && python3.11 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    exit 0
fi
apt_install_missing python3.11 python3.11-venv
command -v python3.11 >/dev/null 2>&1 || die "python3.11 ist nach der Installation nicht im PATH."
python3.11 -c 'import ensurepip, venv' || die "python3.11 hat kein venv/ensurepip (Paket python3.11-venv?)."
