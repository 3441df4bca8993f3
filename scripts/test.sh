#!/usr/bin/env bash
# Installs, builds and runs every test: unit (no root), then privileged
# integration tests (root; each in a private network namespace).
# Under CI=true the privileged tier must run: a skip there is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh

status=0
echo "== unit tests"
(cd build && ctest -L unit --output-on-failure) || status=1

echo "== privileged integration tests (host kernel $(uname -r))"
if [ "$(id -u)" -ne 0 ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: CI=true but not root: the host tier cannot be skipped"; exit 1
  fi
  echo "SKIP: privileged tests need root (sudo scripts/test.sh)"
else
  (cd build && ctest -L privileged --output-on-failure) || status=1
fi
exit $status
