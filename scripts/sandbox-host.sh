#!/usr/bin/env bash
# Prepares this host for the local sandbox backend: subordinate id range and hardening sysctls. Idempotent, quiet.
set -euo pipefail

BASE="${KAFAAT_SANDBOX_UID_BASE:-100000}"
COUNT="${KAFAAT_SANDBOX_UID_COUNT:-65536}"
SLOTS="${KAFAAT_SANDBOX_UID_SLOTS:-1024}"
TOTAL=$(( (SLOTS + 1) * COUNT ))

if [ "$(id -u)" -ne 0 ]; then
  echo "sandbox-host: not root; skipping (the local sandbox backend needs root)" >&2
  exit 0
fi

# Each live sandbox holds one slot of COUNT ids (slot 0 is kept for sandboxes of earlier versions):
# record the whole range as root's, as in rootless containers, so that no other tool hands it out.
for file in /etc/subuid /etc/subgid; do
  touch "$file"
  if [ "$(grep -c "^root:${BASE}:" "$file")" != 1 ] || ! grep -qx "root:${BASE}:${TOTAL}" "$file"; then
    tmp=$(mktemp "${file}.XXXXXX")
    grep -v "^root:${BASE}:" "$file" > "$tmp" || true
    echo "root:${BASE}:${TOTAL}" >> "$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$file"
  fi
done

# Symlink and hardlink tricks against anything that touches learner files; TIOCSTI off where the
# kernel allows it (>= 6.2); ptrace limited to descendants where Yama exists. Missing keys are fine.
set_sysctl() {
  local key="$1" value="$2" path="/proc/sys/${1//.//}"
  [ -w "$path" ] || return 0
  [ "$(cat "$path")" = "$value" ] || echo "$value" > "$path" 2>/dev/null || true
}
set_sysctl fs.protected_symlinks 1
set_sysctl fs.protected_hardlinks 1
set_sysctl fs.protected_fifos 1
set_sysctl fs.protected_regular 2
set_sysctl dev.tty.legacy_tiocsti 0
set_sysctl kernel.yama.ptrace_scope 1
set_sysctl kernel.dmesg_restrict 1

mkdir -p /var/lib/kafaat/sandboxes /var/cache/kafaat/images /var/cache/kafaat/helper /run/kafaat/uid-slots
chmod 0711 /var/lib/kafaat/sandboxes
chmod 0700 /var/cache/kafaat/images /run/kafaat/uid-slots
chmod 0755 /var/cache/kafaat/helper
