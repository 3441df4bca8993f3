#!/usr/bin/env bash
# Writes prometheusrule.yaml and grafana-dashboard.yaml from the files they
# carry (deploy/prometheus/listenq.rules.yml, contrib/grafana/listenq.json).
# gen.sh --check: exit 1 if either differs from what it would write.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
indent() { sed -e "s/^/$1/" -e 's/[[:space:]]*$//'; }
rule() {
  cat <<HEAD
# Written by gen.sh from deploy/prometheus/listenq.rules.yml: edit that file.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: listenq
  namespace: listenq
  labels:
    app.kubernetes.io/name: listenq
spec:
HEAD
  grep -v '^#' "$root/deploy/prometheus/listenq.rules.yml" | indent '  '
}
dashboard() {
  cat <<HEAD
# Written by gen.sh from contrib/grafana/listenq.json: edit that file.
# Grafana's dashboard sidecar loads ConfigMaps labelled grafana_dashboard.
apiVersion: v1
kind: ConfigMap
metadata:
  name: listenq-dashboard
  namespace: listenq
  labels:
    app.kubernetes.io/name: listenq
    grafana_dashboard: "1"
data:
  listenq.json: |
HEAD
  indent '    ' < "$root/contrib/grafana/listenq.json"
}
if [ "${1:-}" = --check ]; then
  diff -u "$here/prometheusrule.yaml" <(rule) && diff -u "$here/grafana-dashboard.yaml" <(dashboard) ||
    { echo "gen.sh --check: deploy/kubernetes is stale: run deploy/kubernetes/gen.sh"; exit 1; }
  echo "gen.sh --check: prometheusrule.yaml and grafana-dashboard.yaml match their sources"
else
  rule > "$here/prometheusrule.yaml"
  dashboard > "$here/grafana-dashboard.yaml"
fi
