#!/usr/bin/env bash
# Installs the servers the integration tests start on loopback ports, and the headless
# browser the web page tests drive and npm, which installs their accessibility checker
# (Debian packages).
# Idempotent: does nothing when every binary is already on PATH.
set -euo pipefail

# binary -> Debian package
declare -A NEEDED=(
  [kubectl]=kubectl
  [redis-server]=redis-server
  [prometheus]=prometheus
  [promtool]=prometheus
  [/usr/lib/postgresql/15/bin/initdb]=postgresql
  [chromium]=chromium
  [chromedriver]=chromium-driver
  [npm]=npm
)

missing=()
for bin in "${!NEEDED[@]}"; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    missing+=("${NEEDED[$bin]}")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
mapfile -t unique < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "installing test services: ${unique[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null || true
$SUDO apt-get install -y -q --no-install-recommends "${unique[@]}" >/dev/null
