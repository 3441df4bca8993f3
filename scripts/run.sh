#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install, build, and show what
# listenq is for: `listenq demo` (needs root for BPF and a network namespace).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo
# The demo: a private network namespace, a slow server with a small
# backlog, a burst that overflows it; watch live, then verify and what ss
# prints without tcp_diag. Everything it creates goes when it exits.
$SUDO build/listenq demo
