#!/usr/bin/env bash
# The checks of `make test`, in order. Every check runs even after an earlier one failed, so
# that one CI run reports lint, migrations and tests together; the exit code is non-zero if
# any check failed. Expects the venv, system packages and services to be in place (make does that).
set -uo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.." || exit 1

BIN=.venv/bin
export DJANGO_SETTINGS_MODULE=ablage.settings_test
failed=()

step() {
    local name=$1
    shift
    log "==> $name: $*"
    "$@"
    local code=$?
    [ "$code" -eq 0 ] || failed+=("$name (Exit-Code $code)")
}

# pytest exits with 5 when the marker selects nothing; for the SQLite pass that only means
# no test is marked `embedded` yet, which is not a failure.
pytest_sqlite_embedded() {
    ABLAGE_TEST_DB=sqlite "$BIN/pytest" -n auto -m embedded --durations=5
    local code=$?
    [ "$code" -eq 5 ] && return 0
    return "$code"
}

step "ruff check" "$BIN/ruff" check .
step "ruff format" "$BIN/ruff" format --check .
step "Django check" "$BIN/python" manage.py check
step "Migrationen vollständig" "$BIN/python" manage.py makemigrations --check --dry-run
# The slow fault scenarios have their own target (make test-faults), which CI runs as well.
step "pytest (PostgreSQL)" "$BIN/pytest" -n auto --dist loadgroup --durations=15 -m "not faults"
step "pytest (SQLite, embedded)" pytest_sqlite_embedded

if [ "${#failed[@]}" -gt 0 ]; then
    log "Fehlgeschlagen: ${failed[*]}"
    exit 1
fi
log "Alle Prüfungen bestanden"
