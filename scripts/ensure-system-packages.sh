#!/usr/bin/env bash
# Install the Debian packages given as arguments, but only those that are missing.
# Usage: scripts/ensure-system-packages.sh tesseract-ocr tesseract-ocr-deu ...
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

[ "$#" -gt 0 ] || die "Aufruf: $0 PAKET..."
apt_install_missing "$@"
