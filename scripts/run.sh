#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install, build, and show what
# listenq sees on this machine (needs root for BPF).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo
echo "== listenq probe: what this kernel allows, and the attach tier per hook"
$SUDO build/listenq probe
echo
echo "== listenq snapshot -p: every TCP listener of this network namespace"
$SUDO build/listenq snapshot -p
echo
echo "== listenq verify --emulate-no-tcp-diag: what ss shows where tcp_diag is missing"
$SUDO build/listenq verify --emulate-no-tcp-diag || true
