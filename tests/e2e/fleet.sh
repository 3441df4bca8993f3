#!/usr/bin/env bash
# The fleet path, for real, on this machine (scripts/test.sh, step fleet):
# listenq's image (scripts/image.sh) runs as the DaemonSet runs it (its
# capabilities, read-only root, the node's tracefs, the node's pid
# namespace); Debian's Prometheus scrapes it with deploy/prometheus's rules;
# Debian's Alertmanager sends to a webhook here; a listener overflows; the
# overflow alert must reach the webhook with the listener's labels.
# Everything runs in a private network namespace; the container, the image
# and the processes are removed at the end.
# podman 4.3's `kube play` ignores hostPID (the pod's PidMode is private),
# so the container is started with `podman run` and the DaemonSet's
# settings, read from deploy/kubernetes/daemonset.yaml.
# The rules' `for:` are cut to 5 s here, so the alert fires in seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "fleet: SKIP: needs root (podman's store, BPF)"; exit 2; }
if [ -z "${LQ_FLEET_NETNS:-}" ]; then
  exec unshare -n env LQ_FLEET_NETNS=1 "$0" "$@"
fi
ip link set lo up
for p in podman prometheus prometheus-alertmanager python3; do
  command -v $p >/dev/null || { echo "fleet: FAILED: $p is not installed (scripts/deps.sh installs it)"; exit 1; }
done
scene=$root/build/tests/lq_scene
[ -x "$scene" ] || { echo "fleet: FAILED: $scene not built"; exit 1; }
work=$(mktemp -d)
name=lq-fleet-$$
pids=()
[ -x "$root/build-static/listenq" ] || "$root/scripts/build-static.sh" >/dev/null
version=$("$root/build-static/listenq" --version | awk '{print $2}')
tag=localhost/listenq:$version
export CONTAINERS_CONF=$work/containers.conf
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\nruntime = "runc"\n' > "$CONTAINERS_CONF"
images_before=$(podman images -q --no-trunc)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  podman rmi -f "$tag" >/dev/null 2>&1 || true
  for i in $(podman images -q --no-trunc); do  # whatever else podman made here
    grep -qx "$i" <<<"$images_before" || podman rmi -f "$i" >/dev/null 2>&1 || true
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

msg=$("$root/scripts/image.sh" --keep) || { echo "fleet: FAILED: scripts/image.sh: $msg"; exit 1; }
echo "-- the image: $msg"
caps=$(sed -n 's/^ *add: \[\(.*\)\]$/\1/p' "$root/deploy/kubernetes/daemonset.yaml" | tr -d '" ')
podman run -d --name "$name" --pid host --network host --read-only --security-opt no-new-privileges \
  --cap-drop all --cap-add "$caps" -v /sys/kernel/tracing:/sys/kernel/tracing:ro \
  "$tag" --listen 127.0.0.1:19464 --metrics full >/dev/null
echo "-- listenq: podman run --pid host --read-only --cap-drop all --cap-add $caps, the node's tracefs"

cat > "$work/hook.py" <<'PY'
import http.server, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        with open(sys.argv[2], 'ab') as f:
            f.write(body + b'\n')
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Hook).serve_forever()
PY
python3 "$work/hook.py" 19095 "$work/alerts.jsonl" & pids+=($!)
cat > "$work/am.yml" <<'YML'
route: {receiver: hook, group_wait: 1s, group_interval: 1s, repeat_interval: 1h}
receivers: [{name: hook, webhook_configs: [{url: 'http://127.0.0.1:19095/'}]}]
YML
prometheus-alertmanager --config.file="$work/am.yml" --storage.path="$work/am" \
  --web.listen-address=127.0.0.1:19093 --cluster.listen-address= > "$work/am.log" 2>&1 & pids+=($!)
sed -E 's/^( *for: ).*/\15s/' "$root/deploy/prometheus/listenq.rules.yml" > "$work/rules.yml"
cat > "$work/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ['$work/rules.yml']
alerting: {alertmanagers: [{static_configs: [{targets: ['127.0.0.1:19093']}]}]}
scrape_configs:
  - job_name: listenq
    honor_labels: true
    static_configs: [{targets: ['127.0.0.1:19464'], labels: {node: 'this-machine'}}]
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address=127.0.0.1:19090 > "$work/prom.log" 2>&1 & pids+=($!)

up=0
for _ in $(seq 1 120); do
  if curl -sf 127.0.0.1:19464/metrics >/dev/null && curl -sf 127.0.0.1:19093/-/ready >/dev/null &&
     curl -sf 127.0.0.1:19090/-/ready >/dev/null; then up=1; break; fi
  sleep 0.5
done
[ $up = 1 ] || { echo "fleet: FAILED: listenq, Alertmanager or Prometheus did not come up"; podman logs "$name" | tail -5; tail -5 "$work/prom.log" "$work/am.log"; exit 1; }
echo "-- up: listenq /metrics, Alertmanager, Prometheus (rules: deploy/prometheus/listenq.rules.yml, for: 5s)"
# With only the DaemonSet's capabilities (no CAP_SETPCAP), export still
# drops all but five once attached: SYS_RESOURCE goes.
cpid=$(podman inspect -f '{{.State.Pid}}' "$name")
eff=$(sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$cpid/status")
want=000000c000280004  # DAC_READ_SEARCH SYS_PTRACE SYS_ADMIN PERFMON BPF
[ "$eff" = "$want" ] || { echo "fleet: FAILED: the container's listenq has CapEff $eff, not $want"; podman logs "$name" | tail -3; exit 1; }
if podman logs "$name" 2>&1 | grep -q 'cannot drop capabilities'; then
  echo "fleet: FAILED: $(podman logs "$name" 2>&1 | grep 'cannot drop capabilities')"; exit 1
fi
echo "-- the container's listenq after start: CapEff $eff (dac_read_search sys_ptrace sys_admin perfmon bpf)"

# A listener that overflows: backlog 2, 20 connects, no accept().
before=$(awk '/^TcpExt:/ { if (!n) { split($0, k); n = 1 } else { split($0, v); for (i in k) if (k[i] == "ListenOverflows") print v[i] } }' /proc/net/netstat)
"$scene" listen 127.0.0.1 7555 2 > "$work/listen.out" & pids+=($!)
for _ in $(seq 1 50); do grep -q READY "$work/listen.out" 2>/dev/null && break; sleep 0.1; done
"$scene" burst 127.0.0.1 7555 20 > "$work/burst.out" & pids+=($!)
fired=""
for _ in $(seq 1 90); do
  if [ -s "$work/alerts.jsonl" ] && grep -q '"ListenqAcceptQueueOverflowing"' "$work/alerts.jsonl"; then
    fired=$(grep -m1 '"ListenqAcceptQueueOverflowing"' "$work/alerts.jsonl"); break
  fi
  sleep 1
done
after=$(awk '/^TcpExt:/ { if (!n) { split($0, k); n = 1 } else { split($0, v); for (i in k) if (k[i] == "ListenOverflows") print v[i] } }' /proc/net/netstat)
[ -n "$fired" ] || { echo "fleet: FAILED: no ListenqAcceptQueueOverflowing at the webhook in 90 s (ListenOverflows +$((after - before)))";
  curl -s "127.0.0.1:19090/api/v1/query?query=listenq_overflows_total" > "$work/q.json" || true; head -c 600 "$work/q.json"; echo; exit 1; }
echo "-- the kernel: TcpExt ListenOverflows +$((after - before)) in this netns"
echo "-- the webhook received:"
python3 -c '
import json, sys
m = json.loads(sys.argv[1])
for a in m["alerts"]:
    if a["labels"]["alertname"] == "ListenqAcceptQueueOverflowing":
        print(json.dumps({"status": a["status"], "labels": a["labels"], "annotations": a["annotations"]}, indent=1, sort_keys=True))
        ok = a["labels"].get("port") == "7555" and a["labels"].get("comm") == "lq_scene"
        sys.exit(0 if ok else 1)
sys.exit(1)' "$fired" || { echo "fleet: FAILED: the alert does not name port 7555 and lq_scene"; exit 1; }
echo "fleet: ok (the overflow alert reached the webhook with the listener's labels; container, image and processes removed)"
