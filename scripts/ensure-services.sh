#!/usr/bin/env bash
# Make sure the services the test suite talks to are running on this machine:
#   PostgreSQL on 127.0.0.1:5432, role "postgres" reachable over TCP without a password,
#   Redis on 127.0.0.1:6379.
# Installs and starts what is missing; changes nothing that already works. With
# TEST_DATABASE_URL set, the database is the caller's business and PostgreSQL is left alone.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379

wait_for() {
    local what=$1 seconds=$2 check=$3
    for _ in $(seq "$seconds"); do
        "$check" && return 0
        sleep 1
    done
    die "$what ist nach ${seconds}s nicht erreichbar."
}

postgres_ready() {
    command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
}

postgres_accepts_passwordless_login() {
    psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -w -tAc 'select 1' >/dev/null 2>&1
}

newest_cluster_version() {
    # `ls` instead of a glob: no match must give an empty string, not a literal pattern.
    # shellcheck disable=SC2012  # directory names are PostgreSQL versions (15, 16 ...)
    ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1
}

ensure_postgres() {
    if ! postgres_ready; then
        if [ -z "$(newest_cluster_version)" ]; then
            apt_install_missing postgresql
        fi
        local version
        version=$(newest_cluster_version)
        [ -n "$version" ] || die "PostgreSQL ist installiert, aber unter /etc/postgresql gibt es keinen Cluster."
        log "Starte PostgreSQL $version/main"
        # Without systemd (containers, CI) pg_ctlcluster would redirect to systemctl and fail.
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
            log "pg_ctlcluster start meldete einen Fehler; prüfe, ob PostgreSQL trotzdem antwortet"
        wait_for "PostgreSQL auf $PG_HOST:$PG_PORT" 30 postgres_ready
    fi

    postgres_accepts_passwordless_login || allow_passwordless_login
    # ablage.settings_test names this database; Django connects to it for the migration
    # history check of `makemigrations --check` (the tests themselves create test_ablage*).
    if [ "$(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -w -tAc \
        "select 1 from pg_database where datname = 'ablage'")" != "1" ]; then
        log "Lege die Datenbank ablage an"
        psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -w -qc 'create database ablage'
    fi
}

allow_passwordless_login() {
    local version hba
    version=$(newest_cluster_version)
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    if [ -z "$version" ] || ! as_root test -f "$hba"; then
        die "Rolle postgres kann sich nicht ohne Passwort über $PG_HOST anmelden, und es gibt keine pg_hba.conf unter /etc/postgresql. TEST_DATABASE_URL setzen oder Zugang einrichten."
    fi
    log "Erlaube der Rolle postgres die Anmeldung ohne Passwort von $PG_HOST ($hba)"
    # pg_hba.conf is first-match: the line must come before the default scram/md5 rules.
    # Scope: one role, loopback only. This is a development/CI database.
    as_root sed -i "1i host all postgres $PG_HOST/32 trust  # ablage scripts/ensure-services.sh (Testsuite)" "$hba"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    wait_for "Passwortlose Anmeldung als postgres" 10 postgres_accepts_passwordless_login
}

redis_ready() {
    command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
}

ensure_redis() {
    redis_ready && return 0
    apt_install_missing redis-server
    # The Debian package may have started its own instance just now.
    redis_ready && return 0
    log "Starte Redis auf $REDIS_HOST:$REDIS_PORT"
    # No persistence: the tests only need a broker and a channel layer, never old data.
    redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no
    wait_for "Redis auf $REDIS_HOST:$REDIS_PORT" 10 redis_ready
}

if [ -n "${TEST_DATABASE_URL:-}" ]; then
    log "TEST_DATABASE_URL ist gesetzt; PostgreSQL wird nicht geprüft"
else
    ensure_postgres
fi
ensure_redis
log "PostgreSQL und Redis laufen"
