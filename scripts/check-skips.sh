#!/usr/bin/env bash
# Compares a run's skips with tests/expected-skips.txt, the checked-in
# table of the skips each kernel is expected to have, each with its reason.
#
#   scripts/check-skips.sh WHERE KERNEL < RESULTS
#
# WHERE is host or guest; KERNEL is the kernel release (uname -r). RESULTS
# holds one line per test or scenario: "pass NAME", "fail NAME" or
# "skip NAME" (NAME: a gtest name, or a guest scenario such as
# watch_overflow_fentry@diag or integration@nodiag/Snapshot.Ipv6Listener).
# A skip the table does not list fails (exit 1), with the test's name; a
# listed skip whose test passed is reported (its line can go); a run where
# every test skipped fails.
set -euo pipefail
cd "$(dirname "$0")/.."
where=$1 kernel=$2
table=tests/expected-skips.txt
results=$(cat)
status=0
passed=$(grep -c '^pass ' <<<"$results" || true)
skipped=$(grep -c '^skip ' <<<"$results" || true)
if [ "$passed" = 0 ] && [ "$skipped" != 0 ]; then
  echo "check-skips: $where $kernel: every test skipped ($skipped): nothing was tested"
  status=1
fi
# expected NAME: the reason the table gives for NAME here, or nothing.
expected() {
  local k w n reason
  while read -r k w n reason; do
    [[ -z $k || $k == \#* ]] && continue
    # shellcheck disable=SC2053  # globs on purpose
    [[ $where == "$w" && $kernel == $k && $1 == $n ]] && { echo "$reason"; return 0; }
  done < "$table"
  return 1
}
unexpected=0 declared=0 stale=()
while read -r st name; do
  [ -n "${name:-}" ] || continue
  case $st in
    skip)
      if reason=$(expected "$name"); then
        declared=$((declared + 1))
      else
        echo "check-skips: UNEXPECTED SKIP on $where $kernel: $name (not in $table)"
        unexpected=$((unexpected + 1)); status=1
      fi ;;
    pass)
      reason=$(expected "$name") && stale+=("$name (listed: $reason)") ;;
  esac
done <<<"$results"
for s in ${stale[@]+"${stale[@]}"}; do
  echo "check-skips: listed as an expected skip on $where $kernel, but it ran and passed: $s"
done
echo "check-skips: $where $kernel: $passed passed, $skipped skipped ($declared declared in $table, $unexpected not), ${#stale[@]} listed skips that passed"
exit $status
