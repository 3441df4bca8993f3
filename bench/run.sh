#!/usr/bin/env bash
# listenq benchmarks: ratios measured within one run, never asserted.
#
#   bench/run.sh            full run on this machine -> bench/RESULTS.md
#   bench/run.sh --smoke    tiny counts (CI): proves every benchmark runs -> build/bench-smoke.md
#   bench/run.sh --vm       also the accept-path overhead per tier in the 6.1 and 6.12 guests
#
# Loads stay on loopback inside a private network namespace (unshare -n),
# bounded in count. Needs root (BPF, namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=0 VM=0
for a in "$@"; do
  case "$a" in
    --smoke) SMOKE=1 ;;
    --vm) VM=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $a (try --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh: needs root (BPF, network namespaces)" >&2; exit 3; }

scripts/deps.sh
if [ $SMOKE = 0 ] && ! command -v bpftrace >/dev/null; then
  # the peer tool; its result (attach or not) goes in the table
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bpftrace >/dev/null 2>&1 ||
    echo "bench: bpftrace could not be installed; the table says so"
fi
# The real workload (bench/nginx.py): Debian's nginx-light and wrk. No
# service may start on install (policy-rc.d), so nothing listens outside
# the benchmark's private netns.
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light wrk >/dev/null 2>&1 ||
    echo "bench: nginx-light and wrk could not be installed; the nginx benchmark will say so"
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
scripts/build.sh

B=$PWD/build/listenq_bench LQ=$PWD/build/listenq
if [ $SMOKE = 1 ]; then
  OUT=build/bench-smoke.md
  OV="--pairs 1 --conns 300" SN="--counts 100,300 --reps 1" SU="--listeners 100 --rss-listeners 300 --reps 1"
  EV="--cycles 300 --conns 300 --max-seconds 5" EX="--counts 100 --reps 1" SM="--netns 2 --per-netns 10 --frames 2"
  NG="--seconds 1 --pairs 1"
else
  OUT=bench/RESULTS.md
  OV="--pairs 20 --conns 10000" SN="--counts 1000,10000,50000 --reps 7" SU="--listeners 1000 --rss-listeners 50000 --reps 9"
  EV="--cycles 50000 --conns 50000 --max-seconds 30" EX="--counts 1000,10000,50000 --reps 7"
  SM="--netns 100 --per-netns 100 --frames 20"
  NG="--seconds 8 --pairs 10"
fi

tmp=$(mktemp) goals=$(mktemp)
trap 'rm -f "$tmp" "$goals"' EXIT
# Each benchmark appends key=value lines here (listenq_bench's goal(),
# bench/nginx.py): the goal table at the end is made from them.
export LISTENQ_BENCH_GOALS=$goals
{
  echo "# listenq benchmark results"
  echo
  echo "Produced by \`bench/run.sh$([ $SMOKE = 1 ] && echo ' --smoke')$([ $VM = 1 ] && echo ' --vm')\` (every figure from this one run)."
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
  echo "| machine | $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) |"
  echo "| kernel | $(uname -r) |"
  echo "| listenq | $(git describe --always --dirty 2>/dev/null || echo '?') |"
  echo "| TCP ehash buckets | $(sysctl -n net.ipv4.tcp_ehash_entries 2>/dev/null || echo '?') (iter/tcp and /proc walk them all) |"
  echo
} > "$tmp"

run() {  # a private netns per benchmark: nothing else's sockets in the walk
  unshare -n bash -c 'ip link set lo up && exec "$@"' _ "$B" --listenq "$LQ" "$@" >> "$tmp"
}
echo "bench: accept-path overhead"; run overhead $OV
echo "bench: accept-path overhead with the syscall hooks"; run overhead $OV --syscalls
echo "bench: nginx + wrk"
unshare -n bash -c 'ip link set lo up && exec python3 bench/nginx.py --listenq "$1" $2' _ "$LQ" "$NG" >> "$tmp"
echo "bench: snapshot at scale"; run snapshot $SN
echo "bench: start-up and memory"; run startup $SU
echo "bench: event pressure"; run events $EV
echo "bench: Prometheus scrape"; run export $EX
echo "bench: sample cost per sampler way"; run sampler $SM
echo "bench: bpftrace peer"; run bpftrace

# The goals of issues 16 and 23, each from this run's own figure.
goal_row() {  # goal text, key, limit, unit, and "ge" where the figure must reach the limit
  local v
  v=$(sed -n "s/^$2=//p" "$goals" | tail -1)
  if [ -z "$v" ]; then
    echo "| $1 | not measured in this run | - |"
  else
    awk -v g="$1" -v v="$v" -v lim="$3" -v u="$4" -v ge="${5:-}" 'BEGIN {
      met = ge == "ge" ? v + 0 >= lim + 0 : v + 0 <= lim + 0
      printf "| %s | %s%s | %s |\n", g, v, u, met ? "met" : "**missed**" }'
  fi
}
{
  echo "## Goals: what this run shows"
  echo
  echo "Every figure below is from the tables above, in this run on $(uname -r)."
  echo
  echo "| goal | this run | status |"
  echo "|---|---|---|"
  goal_row "BPF share of a request's CPU, nginx + wrk, \`watch\` default ≤ 1 %" nginx_share_watch 1 " %"
  goal_row "same, \`export\` default ≤ 1 %" nginx_share_export 1 " %"
  goal_row "nginx requests/s with \`export\` running ≥ 0.99 × without (median per-pair ratio; ±10 % swing on 2 vCPUs)" \
    nginx_ratio 0.99 "" ge
  goal_row "accept path traced/untraced ≥ 0.99, \`watch\` default (median per-pair ratio; ±10 % swing on 2 vCPUs)" \
    accept_ratio 0.99 "" ge
  goal_row "\`watch\` peak RSS ≤ 32 MiB at 50k listeners" rss_watch 32 " MiB"
  goal_row "\`export\` peak RSS ≤ 32 MiB at 50k listeners (3 scrapes)" rss_export 32 " MiB"
  goal_row "default scrape without gzip ≤ 1.0× \`ss -lnt\` at 10k" scrape_ratio_10000_default 1 "×"
  goal_row "default scrape with gzip ≤ 1.0× \`ss -lnt\` at 10k" scrape_ratio_10000_default_gzip 1 "×"
  goal_row "snapshot ≤ 1.0× \`ss -lnt\` at 10k" snapshot_ratio_10000 1 "×"
  goal_row "snapshot ≤ 1.0× \`ss -lnt\` at 50k" snapshot_ratio_50000 1 "×"
  goal_row "CPU of one sample ≤ 2 ms at 100 netns × 100 listeners, the way this kernel's plan takes (wait4, frames' reads included)" \
    sample_cpu_us_none 2000 " µs"
  goal_row "same, a sample alone (wait4, marginal: --sample-ms 100 vs 1000)" sample_marginal_us_none 2000 " µs"
  echo
} >> "$tmp"

if [ $VM = 1 ]; then
  echo "bench: per-tier overhead in the guests"
  log=$(mktemp)
  LISTENQ_VM_TIMEOUT=900 scripts/vmtest.sh --only bench > "$log" 2>&1 || true
  {
    echo "### Accept path per tier in qemu guests (TCG; ratios within one boot)"
    echo
    echo '```'
    grep -E '^([56]\.[0-9]+ |kernel )' "$log" | grep -E 'bench_|kernel tier' || tail -20 "$log"
    echo '```'
    echo
  } >> "$tmp"
  rm -f "$log"
fi

mv "$tmp" "$OUT"
trap - EXIT
echo "bench: wrote $OUT"
cat "$OUT"
