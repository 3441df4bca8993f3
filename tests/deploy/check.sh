#!/usr/bin/env bash
# The Kubernetes manifests, offline (unit tier, no cluster): the generated
# files match their sources, kustomize builds the whole set, the rules the
# PrometheusRule carries pass promtool, and the DaemonSet grants the
# capabilities docs/deployment.md lists, no more.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
k=$root/deploy/kubernetes
"$k/gen.sh" --check
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if command -v kubectl >/dev/null; then
  kubectl kustomize "$k" > "$tmp/all.yaml"
  kinds=$(grep '^kind:' "$tmp/all.yaml" | sort | tr '\n' ' ')
  [ "$kinds" = "kind: ConfigMap kind: DaemonSet kind: Namespace kind: PodMonitor kind: PrometheusRule " ] ||
    { echo "kustomize built: $kinds"; exit 1; }
  echo "kubectl kustomize: $kinds"
else
  echo "kubectl not installed: kustomize build not checked"
fi
sed -n '/^spec:/,$p' "$k/prometheusrule.yaml" | tail -n +2 | sed 's/^  //' > "$tmp/rules.yml"
promtool check rules "$tmp/rules.yml"
granted=$(sed -n 's/^ *add: \[\(.*\)\]$/\1/p' "$k/daemonset.yaml" | tr -d '" ' | tr ',' '\n' | sort | tr '\n' ' ')
documented=$(sed -n 's/^| `CAP_\([A-Z_]*\)` |.*/\1/p' "$root/docs/deployment.md" | sort | tr '\n' ' ')
[ -n "$granted" ] && [ "$granted" = "$documented" ] ||
  { echo "DaemonSet adds: $granted; docs/deployment.md lists: $documented"; exit 1; }
echo "capabilities: the DaemonSet adds what docs/deployment.md lists: $granted"
