# shellcheck shell=bash
# Shared helpers for the set-up scripts; sourced, not executed.

log() { printf '[ablage] %s\n' "$*" >&2; }
die() { printf '[ablage] FEHLER: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "'$*' braucht root-Rechte, und sudo ist nicht installiert. Als root ausführen oder sudo einrichten."
    fi
}

package_installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

# Install the Debian packages among "$@" that are missing; `apt-get update` only when one is.
apt_install_missing() {
    local missing=() package
    for package in "$@"; do
        package_installed "$package" || missing+=("$package")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || die "Fehlende Pakete (${missing[*]}), und apt-get gibt es hier nicht (Debian 12 erwartet)."
    log "Installiere Systempakete: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}
