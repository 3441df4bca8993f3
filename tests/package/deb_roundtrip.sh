#!/usr/bin/env bash
# deb_roundtrip.sh DEB (root): installs the package scripts/package.sh made,
# runs it, checks its unit, and removes it. Every path the package brings
# that was not there before must be gone after dpkg -r, and dpkg must forget
# the package: with no conffiles there is no "config-files" state. Prints
# one line: what was checked, or the first step that failed (exit 1).
# scripts/test.sh runs it in its "Debian package" section.
set -euo pipefail
deb=$1
unit=/usr/lib/systemd/system/listenq-export.service
fail() { echo "$*"; exit 1; }
forgotten() {  # dpkg has no record, or "unknown ok not-installed"
  local st
  st=$(dpkg-query -W -f='${Status}' listenq 2>/dev/null || true)
  case $st in "" | *" not-installed") return 0 ;; *) echo "$st"; return 1 ;; esac
}

st=$(forgotten) || fail "listenq is on this machine already ($st): dpkg -r listenq first"
command -v systemd-analyze >/dev/null || fail "no systemd-analyze (scripts/deps.sh installs systemd)"
ver=$(dpkg-deb -f "$deb" Version)
# No maintainer scripts (nothing enables the unit) and no conffiles.
ctrl=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -vx '\./' | sort | tr '\n' ' ')
[ "$ctrl" = "./control ./md5sums " ] || fail "control part is not just control and md5sums: $ctrl"
mapfile -t paths < <(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\.||; s|/$||' | grep .)
[[ " ${paths[*]} " != *" /etc/"* ]] || fail "the package ships files in /etc"
new=()
for p in "${paths[@]}"; do [ -e "$p" ] || new+=("$p"); done

dpkg -i "$deb" >/dev/null || { dpkg -r listenq >/dev/null 2>&1 || true; fail "dpkg -i $deb failed"; }
# Checked while installed; dpkg -r runs whatever they say.
check_installed() {
  [ "$(/usr/sbin/listenq --version)" = "listenq $ver" ] || { echo "installed listenq --version is not 'listenq $ver'"; return; }
  local out
  out=$(/usr/sbin/listenq snapshot) && [[ $out == "listenq snapshot: "* ]] || { echo "installed listenq snapshot failed"; return; }
  [ "$(man -w listenq)" = /usr/share/man/man8/listenq.8.gz ] || { echo "man -w listenq is not /usr/share/man/man8/listenq.8.gz"; return; }
  grep -qx "ExecStart=/usr/sbin/listenq export --listen 127.0.0.1:9464" "$unit" || { echo "$unit: not ExecStart=/usr/sbin/listenq ..."; return; }
  # verify works without systemd as PID 1 (a container). What it says about
  # this host's other units is not ours. First, that it can fault one here:
  # a copy whose binary is missing.
  local ctl
  ctl=$(mktemp -d)
  sed 's|^ExecStart=/usr/sbin/|ExecStart=/nonexistent/|' "$unit" > "$ctl/listenq-export.service"
  out=$(systemd-analyze verify "$ctl/listenq-export.service" 2>&1 || true)
  rm -rf "$ctl"
  [[ $out == *"listenq-export.service: Command /nonexistent/listenq is not executable"* ]] ||
    { echo "systemd-analyze verify does not fault a unit with no binary here: $out"; return; }
  out=$(systemd-analyze verify "$unit" 2>&1 | grep -i listenq || true)
  [ -z "$out" ] || { echo "systemd-analyze verify $unit: $out"; return; }
  out=$(systemctl is-enabled listenq-export.service || true)
  [ "$out" = disabled ] || { echo "systemctl is-enabled listenq-export: $out, not disabled"; return; }
}
problem=$(check_installed)
dpkg -r listenq >/dev/null || fail "${problem:-dpkg -r listenq failed}"
[ -z "$problem" ] || fail "$problem"

st=$(forgotten) || fail "after dpkg -r, dpkg -s listenq says: $st"
for p in "${new[@]}"; do [ ! -e "$p" ] || fail "left behind by dpkg -r: $p"; done
echo "${#paths[@]} paths, the ${#new[@]} new ones gone after dpkg -r, dpkg forgot listenq"
