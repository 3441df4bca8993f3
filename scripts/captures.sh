#!/bin/bash
# Every command output shown in README.md and docs/ comes from this script:
# real runs of the built listenq in a private network namespace that holds
# listeners with known parameters (tests/tools/lq_scene.c). Each output is
# kept in docs/captures/NAME.txt (its first line the command, as a reader
# types it), and sits in the docs between the lines
#   <!-- capture: NAME -->  and  <!-- /capture -->
#
#   scripts/captures.sh            run the scenes (root), write docs/captures,
#                                  and put each capture into the docs
#   scripts/captures.sh --check    run the scenes into a temporary directory
#                                  and compare each with docs/captures, pids,
#                                  netns inodes, counts and times masked
#                                  (root; tests/CMakeLists.txt: docs.captures)
#   scripts/captures.sh --splice   put docs/captures into the docs again (after
#                                  moving a block; no root, no run)
#   scripts/captures.sh --check-docs
#                                  every block in the docs equals its capture,
#                                  and every capture is shown (no root)
# LISTENQ_BUILD: the build directory (default build/).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${LISTENQ_BUILD:-$ROOT/build}
CAPS=$ROOT/docs/captures
DOCS=("$ROOT/README.md" "$ROOT"/docs/*.md "$ROOT/bench/README.md")

die() { echo "captures.sh: $*" >&2; exit 1; }

# The blocks of one markdown file: "NAME<TAB>first line<TAB>last line" of
# each block's body (between the fence lines).
blocks() {
	awk '/^<!-- capture: [a-z0-9_]+ -->$/ { name = $3; start = NR; next }
	     name != "" && /^<!-- \/capture -->$/ { print name "\t" start + 2 "\t" NR - 2; name = "" }' "$1"
}

# Replace each block's body with its capture.
splice() {
	local f
	for f in "${DOCS[@]}"; do
		[ -f "$f" ] || continue
		grep -q '^<!-- capture: ' "$f" || continue
		awk -v caps="$CAPS" '
			/^<!-- capture: [a-z0-9_]+ -->$/ {
				name = $3; print; print "```text"
				file = caps "/" name ".txt"
				while ((getline line < file) > 0) print line
				close(file); skip = 1; next
			}
			skip && /^<!-- \/capture -->$/ { print "```"; print; skip = 0; next }
			!skip { print }' "$f" > "$f.tmp"
		mv "$f.tmp" "$f"
	done
}

check_docs() {
	local f name first last bad=0 shown=" "
	for f in "${DOCS[@]}"; do
		[ -f "$f" ] || continue
		while IFS=$'\t' read -r name first last; do
			shown+="$name "
			if [ ! -f "$CAPS/$name.txt" ]; then
				echo "${f#$ROOT/}:$first: capture $name: no docs/captures/$name.txt"
				bad=1
			elif ! sed -n "${first},${last}p" "$f" | cmp -s - "$CAPS/$name.txt"; then
				echo "${f#$ROOT/}:$first: capture $name differs from docs/captures/$name.txt (scripts/captures.sh puts it back)"
				bad=1
			fi
		done < <(blocks "$f")
	done
	for f in "$CAPS"/*.txt; do
		name=$(basename "$f" .txt)
		case "$shown" in
		*" $name "*) ;;
		*) echo "docs/captures/$name.txt: shown nowhere in README.md or docs/"; bad=1 ;;
		esac
	done
	[ $bad = 0 ] && echo "captures: every block in the docs equals its capture"
	return $bad
}

# What may change from run to run or machine to machine: pids (and so how
# much of a command name fits beside one in PID/COMM), inodes, cookies,
# counts, a histogram's bars, times, the kernel's release, column widths,
# line wrapping, and the plan's header lines (what this kernel refused,
# what is sampled: probe's capture shows them, with the refusals that make
# it the same on every build). doctor's warnings and notes depend on how
# the handshakes of a burst interleave (the demo's SYN queue fills in one
# run and not the next): only its critical findings are compared. What is
# left (the words, the columns, the lines a command prints) must not
# change.
mask() {
	awk '/^(hooks not in use|refused|sampled every|not measured in this tier|from netns counters)[ :]/ { drop = 1; next }
	     /^[0-9]+ findings? needs? action \(/ { print "FINDINGS"; next }
	     /^(WARNING|INFO)  / { drop = 1; next }
	     /^listenq trace: tier / { sub(/: [^:]*$/, ""); sub(/: tp_btf.*|: raw_tp.*|: tracepoint.*|: kprobe.*|: fentry.*/, ""); print; drop = 1; next }
	     drop && /^[ \t]/ { next }
	     { drop = 0; print }' "$1" |
	sed -E -e 's/\|[* ]*\|/|BAR|/g' -e 's/\b[0-9]+\/[A-Za-z][^ ]*/PID\/COMM/g' -e 's/[0-9]+(\.[0-9]+)?(ns|us|µs|ms|s)\b/T/g' -e 's/0x[0-9a-f]+/H/g' -e 's/[0-9]+/N/g' \
	       -e 's/\bpasses\b/pass/g' |
	tr -s ' \t\n' '   ' | tr ' ' '\n' |
	# A duration written with a space ("0 us", "2.1 s"), wherever the line
	# wraps: its unit changes with its size (doctor's "now" wait).
	awk 'held != "" && /^(ns|us|µs|ms|s)([^A-Za-z0-9].*)?$/ { sub(/^(ns|us|µs|ms|s)/, "T"); print; held = ""; next }
	     held != "" { print held; held = "" }
	     /^N(\.N)?$/ { held = $0; next }
	     { print }
	     END { if (held != "") print held }'
}

# --- the scenes (root, in a private network namespace) ---------------------

LQ=$BUILD/listenq
SC=$BUILD/tests/lq_scene

# start NAME ARGS...: run lq_scene in the background until it says READY.
start() {
	local name=$1 i
	shift
	"$SC" "$@" > "$WORK/$name.ready" 2> "$WORK/$name.err" &
	eval "pid_$name=$!"
	for i in $(seq 1 100); do
		grep -q READY "$WORK/$name.ready" && return 0
		sleep 0.05
	done
	die "lq_scene $*: not ready in 5 s: $(cat "$WORK/$name.err")"
}
stop() { local p; eval "p=\$pid_$1"; kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; }

# until_line FILE PATTERN: wait (at most 20 s) for a line of a command
# running in the background.
until_line() {
	local i
	for i in $(seq 1 400); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	die "no line $2 in $1 after 20 s: $(head -c 600 "$1")"
}

# cap NAME "SHOWN COMMAND" COMMAND...: run it, keep "$ SHOWN" and its output.
cap() {
	local name=$1 shown=$2
	shift 2
	{ echo "\$ $shown"; "$@" 2>&1 || true; } > "$OUT/$name.txt"
}

scenes() {
	ip link set lo up
	sysctl -qw net.core.somaxconn=1024
	WORK=$(mktemp -d)
	trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

	cap help "listenq --help" "$LQ" --help
	cap probe "sudo LISTENQ_REFUSE=iter/bpf_sk_storage_map,iter/task_file listenq probe" \
		env LISTENQ_REFUSE=iter/bpf_sk_storage_map,iter/task_file "$LQ" probe

	start slow listen 127.0.0.1 8080 8
	start idle listen 0.0.0.0 9000 4096
	start v6 listen :: 8443 128
	start burst1 burst 127.0.0.1 8080 20
	sleep 0.3
	cap snapshot "sudo listenq snapshot -n -p" "$LQ" snapshot -n -p
	cap snapshot_json "sudo listenq snapshot -n --port 8080 --json" "$LQ" snapshot -n --port 8080 --json
	cap ss "sudo listenq ss -lntp" "$LQ" ss -lntp
	cap verify "sudo listenq verify" "$LQ" verify
	cap verify_nodiag "sudo listenq verify --emulate-no-tcp-diag" "$LQ" verify --emulate-no-tcp-diag

	# watch: a second burst after the first frame.
	{ echo "\$ sudo listenq watch 1 3 --port 8080"; "$LQ" watch 1 3 --port 8080 2>&1; } > "$OUT/watch.txt" &
	local w=$!
	until_line "$OUT/watch.txt" '^ADDR:PORT'
	start burst2 burst 127.0.0.1 8080 20
	wait $w || true
	stop burst2

	# hist: 20 connections queue on the idle listener (backlog 1024).
	{ echo "\$ sudo listenq hist 3 --port 9000"; "$LQ" hist 3 --port 9000 2>&1; } > "$OUT/hist.txt" &
	w=$!
	sleep 1
	start burst3 burst 127.0.0.1 9000 20
	wait $w || true
	stop burst3

	# trace: a server listens with backlog 4, overflows, re-listens asking
	# 4096 (clamped to somaxconn 1024) and closes.
	{ echo "\$ sudo listenq trace --duration 3 --port 7000"; "$LQ" trace --duration 3 --port 7000 2>&1; } > "$OUT/trace.txt" &
	w=$!
	sleep 1
	"$SC" relisten 127.0.0.1 7000 4 8 4096 > /dev/null
	wait $w || true

	# doctor: the server stopped while a burst arrives.
	eval "kill -STOP \$pid_slow"
	{ echo "\$ sudo listenq doctor 5 --port 8080"; "$LQ" doctor 5 --port 8080 2>&1; } > "$OUT/doctor.txt" &
	w=$!
	sleep 1
	start burst4 burst 127.0.0.1 8080 20
	wait $w || true
	stop burst4
	eval "kill -CONT \$pid_slow"

	# export, scraped as Prometheus does.
	"$LQ" export > "$WORK/export.log" 2>&1 &
	local e=$! i
	for i in $(seq 1 100); do
		curl -sf -o /dev/null 127.0.0.1:9464/metrics && break
		sleep 0.1
	done
	start burst5 burst 127.0.0.1 8080 20
	sleep 1.2
	{ echo "\$ sudo listenq export &"
	  echo "\$ curl -s 127.0.0.1:9464/metrics | grep 'port=\"8080\"'"
	  curl -s 127.0.0.1:9464/metrics | grep 'port="8080"' || true; } > "$OUT/export.txt"
	kill $e; wait $e 2>/dev/null || true
	stop burst5

	stop burst1
	cap demo "sudo listenq demo" "$LQ" demo
	stop slow; stop idle; stop v6
}

run_scenes() {  # OUT
	[ "$(id -u)" = 0 ] || die "the scenes load BPF programs and make a network namespace: run as root"
	[ -x "$LQ" ] && [ -x "$SC" ] || die "no $LQ or $SC: build first (scripts/build.sh)"
	mkdir -p "$1"
	OUT=$1 LISTENQ_BUILD=$BUILD unshare -n "$0" --scenes-here "$1"
}

case "${1:-}" in
--scenes-here)
	OUT=$2
	mkdir -p "$OUT"
	scenes
	;;
--check-docs)
	check_docs
	;;
--splice)
	splice
	check_docs
	;;
--check)
	[ -d "$CAPS" ] || die "no docs/captures"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	run_scenes "$tmp"
	bad=0
	for f in "$CAPS"/*.txt; do
		name=$(basename "$f")
		if [ ! -f "$tmp/$name" ]; then
			echo "capture ${name%.txt}: no longer made by scripts/captures.sh"
			bad=1
		elif ! cmp -s <(mask "$f") <(mask "$tmp/$name"); then
			echo "capture ${name%.txt}: the output changed (masked: pids, inodes, counts, times, widths):"
			diff <(mask "$f") <(mask "$tmp/$name") | head -20 | sed 's/^/    /'
			echo "    now:"
			head -40 "$tmp/$name" | sed 's/^/    | /'
			bad=1
		fi
	done
	for f in "$tmp"/*.txt; do
		[ -f "$CAPS/$(basename "$f")" ] || { echo "capture $(basename "$f" .txt): made but not in docs/captures"; bad=1; }
	done
	[ $bad = 0 ] || die "docs out of date: regenerate with sudo scripts/captures.sh and commit docs/"
	echo "captures: $(ls "$CAPS" | wc -l) outputs as the docs show them"
	;;
"")
	run_scenes "$CAPS"
	splice
	check_docs
	;;
*)
	sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 2
	;;
esac
