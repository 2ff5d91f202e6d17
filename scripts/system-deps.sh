#!/usr/bin/env bash
# Installs the Debian packages Kafaat needs when they are missing; quiet and quick when all are there.
set -euo pipefail

PACKAGES=(
  python3-venv bubblewrap debootstrap uidmap util-linux iproute2 nftables procps
  chromium chromium-driver fonts-dejavu-core gettext poppler-utils
  libmariadb-dev pkg-config
  gcc libc6-dev
  nodejs
)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# npm comes with NodeSource's nodejs; Debian ships it as a package of its own.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
