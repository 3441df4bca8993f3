#!/usr/bin/env python3
"""A real workload under listenq: Debian's nginx serving a small file to
Debian's wrk, one connection per request, inside the caller's private netns
(bench/run.sh runs it under unshare -n). Markdown on stdout.

Per mode (untraced, watch, export, watch --syscalls, trace):
  - requests/s and CPU per request (all CPUs busy time / requests, /proc/stat);
  - BPF run time per request of listenq's programs (kernel.bpf_stats_enabled,
    bpftool prog show: run_time_ns and run_cnt of the programs listenq's pid
    holds), per program: runs and ns per run;
  - that BPF time as a share of the untraced CPU per request: the stable
    figure on these machines, where throughput swings +-10 %.
Then A B A B pairs of requests/s: untraced vs `listenq export`.

Bounded: every wrk run has a fixed duration, every process is killed at the end.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

PORT = 18080
EXPORT_PORT = 19464


def busy_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return sum(v[:8]) - idle


def hz():
    return os.sysconf("SC_CLK_TCK")


def all_progs():
    out = subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def progs_of(ids):
    """{name: (run_time_ns, run_cnt)} of these BPF program ids (listenq's:
    those that appeared when it started; Debian's bpftool shows no pids)."""
    res = {}
    for p in all_progs():
        if p["id"] not in ids:
            continue
        name = p.get("name", "?")
        t, c = res.get(name, (0, 0))
        res[name] = (t + p.get("run_time_ns", 0), c + p.get("run_cnt", 0))
    return res


def wrk(seconds, conns):
    """(requests, requests/s) of one bounded wrk run, a new connection per request."""
    r = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "-H", "Connection: close",
                        "http://127.0.0.1:%d/index.html" % PORT], capture_output=True, text=True,
                       timeout=seconds + 30)
    m = re.search(r"(\d+) requests in", r.stdout)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    if not m or not rps:
        sys.exit("bench nginx: wrk gave no result:\n" + r.stdout + r.stderr)
    if errs:
        sys.exit("bench nginx: wrk saw errors:\n" + r.stdout)
    return int(m.group(1)), float(rps.group(1))


def start_nginx(tmp):
    www = os.path.join(tmp, "www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("<html><body>" + "listenq " * 64 + "</body></html>\n")
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""
user root;
worker_processes 1;
worker_cpu_affinity 01;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(tmp)s; proxy_temp_path %(tmp)s; fastcgi_temp_path %(tmp)s;
    uwsgi_temp_path %(tmp)s; scgi_temp_path %(tmp)s;
    server { listen 127.0.0.1:%(port)d backlog=4096; root %(www)s; keepalive_timeout 0; }
}
""" % {"tmp": tmp, "port": PORT, "www": www})
    subprocess.run(["nginx", "-c", conf, "-p", tmp], check=True)
    for _ in range(100):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/index.html" % PORT, timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("bench nginx: nginx did not answer")


def start_listenq(lq, mode):
    args = {"watch": ["watch", "1"], "watch --syscalls": ["watch", "1", "--syscalls"],
            "export": ["export", "--listen", "127.0.0.1:%d" % EXPORT_PORT], "trace": ["trace"]}[mode]
    old = {p["id"] for p in all_progs()}
    p = subprocess.Popen(["taskset", "-c", "0", lq] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Up when its programs are loaded and, for export, /metrics answers.
    for _ in range(300):
        if p.poll() is not None:
            sys.exit("bench nginx: listenq %s exited: %s" % (mode, p.stderr.read().decode()))
        try:
            p.prog_ids = {x["id"] for x in all_progs()} - old
            if p.prog_ids and (mode != "export" or urllib.request.urlopen(
                    "http://127.0.0.1:%d/metrics" % EXPORT_PORT, timeout=5).status == 200):
                time.sleep(1.0)  # attached, and the first full sample pass done
                p.prog_ids = {x["id"] for x in all_progs()} - old
                return p
        except OSError:
            pass
        time.sleep(0.1)
    p.kill()
    sys.exit("bench nginx: listenq %s did not start" % mode)


def stop(p):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def measure(lq, mode, seconds, conns):
    p = start_listenq(lq, mode) if mode != "untraced" else None
    before = progs_of(p.prog_ids) if p else {}
    j0 = busy_jiffies()
    reqs, rps = wrk(seconds, conns)
    j1 = busy_jiffies()
    after = progs_of(p.prog_ids) if p else {}
    if p:
        stop(p)
    cpu_us = (j1 - j0) / hz() * 1e6 / reqs
    per_prog = {}
    for name, (t, c) in after.items():
        t0, c0 = before.get(name, (0, 0))
        if c - c0 > 0:
            per_prog[name] = ((c - c0) / reqs, (t - t0) / (c - c0))
    bpf_us = sum(runs * ns for runs, ns in per_prog.values()) / 1000
    return {"reqs": reqs, "rps": rps, "cpu_us": cpu_us, "bpf_us": bpf_us, "progs": per_prog}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listenq", required=True)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--pairs", type=int, default=10)
    a = ap.parse_args()
    for tool in ("nginx", "wrk", "bpftool", "taskset"):
        if not shutil.which(tool):
            sys.exit("bench nginx: %s is not installed (bench/run.sh installs nginx-light and wrk)" % tool)
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_before = f.read().strip()
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1")
    tmp = tempfile.mkdtemp(prefix="listenq-nginx-")
    try:
        start_nginx(tmp)
        wrk(1, a.conns)  # warm-up
        modes = ["untraced", "watch", "export", "watch --syscalls", "trace"]
        res = {m: measure(a.listenq, m, a.seconds, a.conns) for m in modes}
        base = res["untraced"]["cpu_us"]
        print("### A real workload: nginx + wrk, one connection per request\n")
        print("Debian's nginx (one worker, CPU 0) serves a %d-byte file to Debian's wrk (CPU 1, %d connections, "
              "`Connection: close`) on loopback in a private netns, %d s per mode; listenq on CPU 0. "
              "`kernel.bpf_stats_enabled=1` in every mode.\n" % (os.path.getsize(os.path.join(tmp, "www", "index.html")),
                                                                 a.conns, a.seconds))
        print("| mode | requests/s | CPU µs per request (all CPUs) | BPF µs per request | **BPF share of the untraced "
              "request's CPU** |")
        print("|---|---|---|---|---|")
        for m in modes:
            r = res[m]
            share = "-" if m == "untraced" else "**%.2f %%**" % (100 * r["bpf_us"] / base)
            print("| %s | %.0f | %.1f | %s | %s |" % (
                "untraced" if m == "untraced" else "`listenq %s`" % m, r["rps"], r["cpu_us"],
                "-" if m == "untraced" else "%.3f" % r["bpf_us"], share))
        print("\nPer program (runs per request × ns per run):\n")
        print("| mode | program | runs per request | ns per run |")
        print("|---|---|---|---|")
        for m in modes[1:]:
            for name, (runs, ns) in sorted(res[m]["progs"].items(), key=lambda kv: -kv[1][0] * kv[1][1]):
                print("| `%s` | `%s` | %.2f | %.0f |" % (m, name, runs, ns))
        print()

        ratios, un, tr = [], [], []
        for _ in range(a.pairs):
            u = measure(a.listenq, "untraced", a.seconds // 2 or 1, a.conns)["rps"]
            t = measure(a.listenq, "export", a.seconds // 2 or 1, a.conns)["rps"]
            un.append(u)
            tr.append(t)
            ratios.append(t / u)
        print("**Requests/s, `listenq export` running (B) vs not (A)**, %d pairs A B A B, %d s each\n" % (
            a.pairs, a.seconds // 2 or 1))
        print("| figure | min | median | max |\n|---|---|---|---|")
        for label, v, fmt in (("untraced requests/s", un, "%.0f"), ("with export requests/s", tr, "%.0f"),
                              ("**ratio (per pair)**", ratios, "%.3f")):
            print("| %s | %s | %s | %s |" % (label, fmt % min(v), fmt % statistics.median(v), fmt % max(v)))
        print("\nper-pair ratios: " + " ".join("%.3f" % r for r in ratios) + "\n")
        # one line for bench/run.sh's goal table
        with open(os.environ.get("LISTENQ_BENCH_GOALS", os.devnull), "a") as g:
            g.write("nginx_share_watch=%.2f\nnginx_share_export=%.2f\nnginx_share_trace=%.2f\nnginx_ratio=%.3f\n" % (
                100 * res["watch"]["bpf_us"] / base, 100 * res["export"]["bpf_us"] / base,
                100 * res["trace"]["bpf_us"] / base, statistics.median(ratios)))
    finally:
        pid = os.path.join(tmp, "nginx.pid")
        if os.path.exists(pid):
            subprocess.run(["nginx", "-c", os.path.join(tmp, "nginx.conf"), "-p", tmp, "-s", "stop"],
                           capture_output=True)
            time.sleep(0.3)
        shutil.rmtree(tmp, ignore_errors=True)
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_before)


if __name__ == "__main__":
    main()
