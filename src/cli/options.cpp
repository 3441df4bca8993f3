#include "cli/options.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>

#include <cstdlib>

#include "render/prom_render.h"
#include "version.h"

namespace listenq {

namespace {

std::vector<std::string> split_list(std::string_view list)
{
	std::vector<std::string> out;
	while (!list.empty()) {
		const auto comma = list.find(',');
		if (auto item = list.substr(0, comma); !item.empty())
			out.emplace_back(item);
		list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
	}
	return out;
}

constexpr const char *kMainExamples = R"(EXAMPLES:
  sudo listenq snapshot               every listener: accept queue, backlog, SYN queue
  sudo listenq snapshot -p --port 80  with the owning processes, port 80 only
  sudo listenq ss -lnt                ss's output, with the true backlog as Send-Q
  sudo listenq verify                 do iter/tcp, inet_diag and /proc agree?
  sudo listenq probe                  what this kernel allows, and the tier per hook
  sudo listenq watch                  live: queues, peaks, overflows, accept rate
  sudo listenq trace                  one line per listen, re-listen, clamp, overflow, close
  sudo listenq hist 10                log2 histograms of queue depth and accept wait, 10 s
  sudo listenq export                 Prometheus metrics on 127.0.0.1:9464
  sudo listenq doctor 30              watch 30 s, then say what is wrong and what to change
  sudo listenq demo                   see it work, in a private network namespace
  listenq btf-min listenq.btf         a small BTF to ship with the static binary (--btf)

TIERS (--attach): auto takes, per kernel function, fentry/fexit, else
kprobe/kretprobe, else tracepoints + iter/tcp sampling. fentry or kprobe
uses only that function-hook tier and leaves what it cannot attach to
tracepoints (an error if nothing attaches). tracepoint uses no function
hooks. A program the kernel refuses is planned out, with a fallback (see
listenq probe). Every output header names the tiers in use and what was
refused.

ENVIRONMENT: LISTENQ_ATTACH sets the default --attach, LISTENQ_BTF the
default --btf.
LISTENQ_SKIP_FUNCTIONS=fn,fn treats those kernel functions as absent:
their facts fall back to tracepoints (reported as hooks not in use).
LISTENQ_REFUSE=x,y treats programs (sample_tracked), sections
(tp_btf/sys_exit), program kinds (iter/bpf_sk_storage_map, fentry) or map
kinds (ringbuf, sk_storage) as refused by the kernel: the plan falls back
as it would on such a kernel, and every header says what was lost.
LISTENQ_CACHE_DIR: where the loaded iter/tcp program is kept between runs
(default /run/listenq; empty: no cache). LISTENQ_TIMING=1 prints the wall
time of each step of a command to stderr.

EXIT CODES: 0 ok; 1 failure, verify: an unexplained mismatch, doctor: a
finding needs action; 2 usage; 3 no privilege, no BTF, or the kernel
refuses what the command needs.

JSON schemas and metrics: /usr/share/doc/listenq/json.md and metrics.md
(docs/ in the source tree). Manual: man 8 listenq.
)";

constexpr const char *kSnapshotExamples = R"(EXAMPLES:
  sudo listenq snapshot          like `ss -lnt`, but Send-Q is always the backlog
  sudo listenq snapshot -4 -p    IPv4 only, with pid/comm of the owners
  sudo listenq snapshot --port 443 --json | jq '.listeners[].accept_queue'

Columns: Recv-Q = accept queue (sk_ack_backlog), Send-Q = backlog limit
(sk_max_ack_backlog, after the somaxconn clamp), SynQ = SYN queue
(request sockets), Drops = sk_drops (ListenDrops for this socket).

The first run after boot keeps its loaded iter/tcp program in /run/listenq
(one 0600 file per kernel build; later runs skip the kernel BTF parse);
LISTENQ_CACHE_DIR= (empty) turns that off, rm -rf /run/listenq removes it.
)";

constexpr const char *kBtfMinExamples = R"(EXAMPLES:
  listenq btf-min listenq.btf       for this kernel, from /sys/kernel/btf
  listenq btf-min --vmlinux 4.19.91-26.al7.x86_64.btf al7.btf
                                    for another kernel, from its BTFHub file
  sudo listenq --btf al7.btf snapshot
                                    on that kernel, which has no BTF in sysfs

Kernels without /sys/kernel/btf/vmlinux (before 5.4, or built without
CONFIG_DEBUG_INFO_BTF) need a BTF file for CO-RE. A full one comes from
BTFHub archives, or from pahole -J on the kernel's debug vmlinux. This
command keeps only the types listenq's BPF objects use (a few KiB), to ship
next to the binary for a fleet of identical kernels. It runs bpftool gen
min_core_btf, on any machine with bpftool.
)";

constexpr const char *kProbeExamples = R"(EXAMPLES:
  sudo listenq probe
  sudo listenq probe --json | jq '.plan.facts[] | {fact, tier, mechanisms}'
  sudo listenq probe --attach=fentry   why fentry cannot be used here
  sudo LISTENQ_REFUSE=sample_tracked listenq probe
                                      the plan on a kernel that refuses it

The plan: which program serves each fact, which are refused and what
stands in for them, where each output field comes from. watch, trace,
hist, export and demo carry out the same plan.
)";

constexpr const char *kVerifyExamples = R"(EXAMPLES:
  sudo listenq verify                       all three sources, every listener
  sudo listenq verify --emulate-no-tcp-diag what ss shows on a kernel without tcp_diag
  sudo listenq verify --sources bpf,proc --port 8080 --json

Listeners are joined by socket cookie (iter/tcp, inet_diag) and inode
(/proc). A listener that disagrees is re-read up to --rereads times before
it is called a mismatch. Exit 0 when all agree or every difference is
explained, 1 on an unexplained mismatch.
)";

constexpr const char *kSsExamples = R"(EXAMPLES:
  sudo listenq ss -lnt      same output as `ss -lnt`; Send-Q is the real backlog
  sudo listenq ss -ltnp     with users:(("comm",pid=N,fd=M))
  sudo listenq ss -lnt -6

--source auto reads inet_diag when tcp_diag answers (ss's own source: the
output is ss's, byte for byte), else iter/tcp (the kernels where ss falls
back to /proc and prints Send-Q 0), else /proc with a warning on stderr.
From iter/tcp, rows are IPv4 then IPv6 in the kernel's iter/tcp walk order,
which can differ from inet_diag's. Only TCP listeners: -l and -t are
accepted for muscle memory and always on.
)";

constexpr const char *kWatchExamples = R"(EXAMPLES:
  sudo listenq watch               a frame per second until Ctrl-C
  sudo listenq watch 5 12 --port 8080
  sudo listenq watch 1 10 --json | jq '.listeners[] | {port, accept_queue_peak}'

Rows are sorted by pressure (Recv-Q peak / (Send-Q + 1)), then overflows.
OVF-S/OVF-A: overflows on the SYN path (SYN dropped, accept queue full) and
the ACK path (final ACK dropped) in the interval. In tier 3 (tracepoints)
peaks and SYN-path overflows come from iter/tcp samples every --sample-ms;
the header says so. Accept-wait percentiles need tiers 1-2.
)";

constexpr const char *kTraceExamples = R"(EXAMPLES:
  sudo listenq trace                   listen, re-listen, clamp, close, overflow
  sudo listenq trace --json --duration 10 > events.ndjson
  sudo listenq trace --pid 1234

Events are rare by design (never one per packet): the first overflow of
each second is reported, counts are in `listenq watch`.
)";

constexpr const char *kHistExamples = R"(EXAMPLES:
  sudo listenq hist                 5 seconds, every listener
  sudo listenq hist 30 --port 8080
  sudo listenq hist 10 --json | jq '.listeners[].depth.buckets'

Like bcc's tcpsynbl, but per listener. In tier 3 (tracepoints) the depth
is sampled every --sample-ms; with fentry/kprobe it is recorded at every
enqueue, and the accept wait (queued -> accept()) is measured too.
)";

constexpr const char *kExportExamples = R"(EXAMPLES:
  sudo listenq export                          serve http://127.0.0.1:9464/metrics
  sudo listenq export --listen [::1]:9464 --port 80,443,8000-8099
  sudo listenq export --group-by port --top 200   bounded, on a host of 50k listeners
  sudo listenq export --metrics full --group-by listener   every series of every socket
  sudo listenq export --metrics default,accept_queue_peak
  d=/var/lib/prometheus/node-exporter     node_exporter's textfile collector (as root):
  listenq export --once > $d/listenq.tmp && mv $d/listenq.tmp $d/listenq.prom

--metrics default: per row, what an SRE alerts on: listenq_accept_queue,
listenq_listen_backlog, listenq_syn_queue, listenq_overflows_total
{path="syn"|"ack"; "all" where the tier cannot split them},
listenq_socket_drops_total, and the head-of-line wait:
listenq_accept_queue_oldest_wait_seconds and its _peak_seconds. full adds
the peaks, accepts, the SYN-queue counters and the accept-wait histogram.
A row is a listener (labels netns, family, addr, port, comm, cookie) or,
with --group-by port, a port (label port): its listeners summed, reuseport
groups and every netns together, and the ports of ip_local_port_range
folded into port="ephemeral". auto: per listener up to 1000 listeners,
then per port. --top N keeps the N rows of highest pressure. Always:
listenq_attach_tier_info, listenq_export_info, listenq_events_lost_total,
listenq_untracked_listeners, listenq_scrape_duration_seconds. gzip when
the scraper asks. Every scrape samples first. docs/metrics.md has the list
and the cardinality of each series.
)";

constexpr const char *kDoctorExamples = R"(EXAMPLES:
  sudo listenq doctor                 10 s of every listener, then the findings
  sudo listenq doctor 30 --port 8080
  sudo listenq doctor 5 --json | jq '.findings[] | {severity, id, fix}'
  sudo listenq doctor 10 >/dev/null || alert "listen queues need action"

Each finding has a severity (critical, warning, info), the listeners it
concerns, the numbers measured in the window, the cause they point to and
the fix. Checks: accept queue overflowing (and whether the application
accepts too slowly or its backlog is too small for the bursts), a backlog
clamped by net.core.somaxconn, SYN queue pressure (flood or load),
tcp_abort_on_overflow resetting clients, a SO_REUSEPORT group out of
balance, tcp_diag missing (ss shows Send-Q 0), a backlog smaller than the
accept rate x the measured wait. Exit 0 when nothing needs action (info
findings only), 1 when a critical or warning finding does (or on failure,
with the error on stderr).
)";

constexpr const char *kDemoExamples = R"(EXAMPLES:
  sudo listenq demo                    backlog 8, 64 connections, 4 s of watch
  sudo listenq demo --backlog 4 --burst 200 --seconds 8

Creates a private network namespace (nothing outside it is touched), starts
a server that listens with a small backlog and accepts slowly, and a client
that opens a burst of connections. Shows `listenq watch` live, then
`listenq verify --emulate-no-tcp-diag`: the three sources compared, and what
`ss -lnt` prints where tcp_diag is missing; then `listenq doctor` while a
second burst arrives: the findings, their evidence and the fix. The namespace and both processes
are gone when it exits, however it exits (they die with listenq).
)";

void add_filter_options(CLI::App *app, FilterOptions &f, int &port)
{
	app->add_flag("-4,--ipv4", f.ipv4_only, "IPv4 only");
	app->add_flag("-6,--ipv6", f.ipv6_only, "IPv6 only");
	app->add_option("--port", port, "only listeners on this local port")
		->check(CLI::Range(1, 65535))
		->type_name("PORT");
}

}  // namespace

ListenerFilter FilterOptions::to_filter() const
{
	ListenerFilter f;
	f.ipv4 = !ipv6_only;
	f.ipv6 = !ipv4_only;
	f.port = port;
	return f;
}

namespace {

// The parser and the variables it writes into. CLI::App keeps pointers to
// the members: build it in place, never move it.
struct Cli {
	Options o;
	std::string attach;
	int port = 0;
	std::string export_ports;  // export --port LIST
	bool listening = false, tcp = false;
	bool syscalls = false, no_syscalls = false;
	double hist_secs = 5;
	CLI::App app{"listenq: TCP listen queues, backlogs and overflows, read from the kernel with BPF"};

	explicit Cli(std::string attach_default);
	Cli(const Cli &) = delete;
	Cli &operator=(const Cli &) = delete;
};

// Long: the option table of every command, one declaration per flag: data, read top to bottom.
Cli::Cli(std::string attach_default) : attach(std::move(attach_default))
{
	app.name("listenq");
	app.set_version_flag("--version", std::string("listenq ") + LISTENQ_VERSION);
	app.require_subcommand(1);
	app.fallthrough();
	app.footer(kMainExamples);

	app.add_option("--btf", o.common.btf,
		       "BTF file for CO-RE when the kernel has none in /sys/kernel/btf")
		->envname("LISTENQ_BTF")
		->type_name("PATH");
	app.add_option("--attach", attach, "attach tier: auto, fentry, kprobe or tracepoint (default $LISTENQ_ATTACH or auto; see TIERS)")
		->check(CLI::IsMember({"auto", "fentry", "kprobe", "tracepoint"}))
		->type_name("MODE");
	app.add_flag("-v,--verbose", o.common.verbose, "print libbpf's messages to stderr");

	auto *probe = app.add_subcommand("probe", "what this kernel supports and which tier each hook would use");
	probe->add_flag("--syscalls", syscalls, "plan with the raw syscall hooks (as trace, or watch --syscalls, would)");
	probe->add_flag("--json", o.probe.json, "JSON output");
	probe->footer(kProbeExamples);

	auto *snap = app.add_subcommand("snapshot", "list listening sockets with queue, backlog and SYN queue");
	add_filter_options(snap, o.filter, port);
	snap->add_flag("--json", o.snapshot.json, "JSON output");
	snap->add_flag("-n,--numeric", o.snapshot.numeric, "do not resolve service names");
	snap->add_flag("-p,--processes", o.snapshot.processes, "show owning pid/comm (scans /proc/*/fd)");
	snap->footer(kSnapshotExamples);

	auto *verify = app.add_subcommand("verify", "cross-check iter/tcp, inet_diag and /proc; explain differences");
	add_filter_options(verify, o.filter, port);
	verify->add_option("--sources", o.verify.sources, "sources to compare, comma-separated: bpf, diag, proc")
		->type_name("LIST");
	verify->add_flag("--emulate-no-tcp-diag", o.verify.emulate_no_tcp_diag,
			 "behave as on a kernel without tcp_diag, and show what ss would print");
	verify->add_option("--rereads", o.verify.rereads, "re-reads of a disagreeing listener (default 5)")
		->check(CLI::Range(0, 100));
	verify->add_flag("--json", o.verify.json, "JSON output");
	verify->footer(kVerifyExamples);

	auto *ss = app.add_subcommand("ss", "ss -lnt compatible output with the true backlog as Send-Q");
	ss->add_flag("-l,--listening", listening, "listening sockets (always on)");
	ss->add_flag("-t,--tcp", tcp, "TCP (always on)");
	ss->add_flag("-n,--numeric", o.ss.numeric, "do not resolve service names");
	ss->add_flag("-p,--processes", o.ss.processes, "show the processes using each socket");
	ss->add_flag("-H,--no-header", o.ss.no_header, "suppress the header line");
	ss->add_flag("-4,--ipv4", o.filter.ipv4_only, "IPv4 only");
	ss->add_flag("-6,--ipv6", o.filter.ipv6_only, "IPv6 only");
	ss->add_option("--source", o.ss.source, "auto (inet_diag, else iter/tcp, else /proc), diag, bpf or proc")
		->check(CLI::IsMember({"auto", "bpf", "diag", "proc"}));
	ss->footer(kSsExamples);

	auto tracing_opts = [&](CLI::App *sub) {
		if (sub->get_name() == "export") {  // --port takes a list here
			sub->add_flag("-4,--ipv4", o.filter.ipv4_only, "IPv4 only");
			sub->add_flag("-6,--ipv6", o.filter.ipv6_only, "IPv6 only");
			sub->add_option("--port", export_ports,
					"only these local ports: a list of ports and ranges, e.g. 80,443,8000-8099 (never "
					"folded)")
				->type_name("LIST");
		} else {
			add_filter_options(sub, o.filter, port);
		}
		if (sub->get_name() == "trace")
			sub->add_flag("--no-syscalls", no_syscalls,
				      "no raw syscall hooks: no requested backlog or clamp events (watch's default)");
		else
			sub->add_flag("--syscalls", syscalls,
				      "also hook every syscall's entry and exit: listen()'s requested backlog and the somaxconn "
				      "clamp (costs ~3 us per connection in tier 3; trace's default)");
		sub->add_option("--pid", o.tracing.pid, "only listeners created by this pid");
		sub->add_option("--netns", o.tracing.netns, "only listeners of this netns inode");
		if (sub->get_name() != "export")
			sub->add_flag("--json", o.tracing.json, "JSON output (watch: a document per frame; trace: NDJSON)");
		sub->add_option("--sample-ms", o.tracing.sample_ms, "iter/tcp sampling period in tier 3 (default 100)")
			->check(CLI::Range(10, 60000));
		sub->add_option("--max-listeners", o.tracing.max_listeners,
				"listener map capacity; more are counted as untracked (default 65536)")
			->check(CLI::Range(16, 1 << 22));
		sub->add_option("--ringbuf-kb", o.tracing.ringbuf_kb,
				"event ring buffer size, KiB, a power of 2 (default: trace 4096, ~40k events; watch, hist, "
				"export, doctor 256: they show no events); losses are counted")
			->check(CLI::IsMember({"64", "128", "256", "512", "1024", "2048", "4096", "8192", "16384", "32768",
					       "65536", "131072", "262144"}));
	};
	auto *watch = app.add_subcommand("watch", "live per-listener queues, peaks, overflows and accept rate");
	watch->add_option("interval", o.tracing.interval, "seconds per frame (default 1)")->check(CLI::Range(0.05, 3600.0));
	watch->add_option("count", o.tracing.count, "frames, then exit (default: until interrupted)");
	tracing_opts(watch);
	watch->footer(kWatchExamples);
	auto *trace = app.add_subcommand("trace", "one line per listen, re-listen, clamp, close and overflow");
	trace->add_option("--duration", o.tracing.duration, "seconds, then exit (default: until interrupted)")
		->check(CLI::Range(0.0, 86400.0));
	tracing_opts(trace);
	trace->footer(kTraceExamples);

	auto *hist = app.add_subcommand("hist", "per-listener log2 histograms: queue depth, accept wait");
	hist->add_option("duration", hist_secs, "seconds to collect (default 5)")->check(CLI::Range(0.1, 86400.0));
	tracing_opts(hist);
	hist->footer(kHistExamples);

	auto *exp = app.add_subcommand("export", "Prometheus /metrics: queues, backlogs, overflows, head-of-line wait, per listener or per port");
	exp->add_option("--listen", o.exporter.listen, "address to serve /metrics on (default 127.0.0.1:9464)")
		->type_name("ADDR:PORT");
	exp->add_flag("--once", o.exporter.once,
		      "write one exposition to stdout and exit (node_exporter's textfile collector)");
	exp->add_option("--metrics", o.exporter.metrics,
			"series per row: default (queues, backlog, overflows, drops, head-of-line wait), full (also "
			"peaks, accepts, SYN-queue counters, the accept-wait histogram), or a list: "
			"default,listenq_accept_queue_peak")
		->type_name("SET");
	exp->add_option("--group-by", o.exporter.group_by,
			"a row per listener, or per local port (sums; ephemeral ports folded); auto: per listener up "
			"to 1000 listeners, then per port (default auto)")
		->check(CLI::IsMember({"auto", "listener", "port"}))
		->type_name("ROW");
	exp->add_option("--top", o.exporter.top, "only the N rows under most pressure (peak / backlog, then overflows)")
		->check(CLI::Range(1, 1 << 22))
		->type_name("N");
	tracing_opts(exp);
	exp->footer(kExportExamples);

	auto *doctor = app.add_subcommand("doctor", "watch the listeners for a while, then say what is wrong and what to change");
	doctor->add_option("seconds", o.tracing.duration, "seconds to observe (default 10)")->check(CLI::Range(1.0, 3600.0));
	doctor->add_flag("--emulate-no-tcp-diag", o.doctor.emulate_no_tcp_diag,
			 "report tcp_diag as missing, as on a kernel without it");
	tracing_opts(doctor);
	doctor->footer(kDoctorExamples);

	auto *demo = app.add_subcommand("demo", "a private netns, a slow server, a burst that overflows it: watch, verify, doctor");
	demo->add_option("--seconds", o.demo.seconds, "seconds of live watch (default 4)")->check(CLI::Range(1.0, 60.0));
	demo->add_option("--backlog", o.demo.backlog, "the server's listen() backlog (default 8)")->check(CLI::Range(1, 4096));
	demo->add_option("--burst", o.demo.burst, "connections opened at once (default 64)")->check(CLI::Range(1, 4096));
	demo->add_option("--accept-ms", o.demo.accept_ms, "the server accepts one connection per this many ms (default 250)")
		->check(CLI::Range(1, 10000));
	demo->add_option("--doctor-seconds", o.demo.doctor_seconds,
			 "then `listenq doctor` for this long over a second burst (default 5; 0: skip it)")
		->check(CLI::Range(0.0, 60.0));
	demo->footer(kDemoExamples);

	auto *btf_min = app.add_subcommand("btf-min", "write a minimized BTF for listenq (bpftool gen min_core_btf), for --btf");
	btf_min->add_option("output", o.btf_min.output, "the BTF file to write")->required();
	btf_min->add_option("--vmlinux", o.btf_min.vmlinux,
			    "the target kernel's full BTF (default /sys/kernel/btf/vmlinux; a BTFHub file, or pahole -J "
			    "on a debug vmlinux)")
		->type_name("PATH");
	btf_min->add_option("--bpftool", o.btf_min.bpftool, "bpftool to run (default: /usr/sbin/bpftool, else PATH)")
		->type_name("PATH");
	btf_min->footer(kBtfMinExamples);

}

}  // namespace

// Long: the checks across flags, in the order the errors are reported.
ParseOutcome parse_cli(const std::vector<std::string> &args, std::ostream &out, std::ostream &err)
{
	// LISTENQ_ATTACH sets the default tier (scripts, the guests' tier-3 run).
	const char *attach_env = std::getenv("LISTENQ_ATTACH");
	std::string attach_default = attach_env && *attach_env ? attach_env : "auto";
	if (!parse_attach_mode(attach_default)) {
		err << "listenq: LISTENQ_ATTACH=" << attach_default << ": choose auto, fentry, kprobe or tracepoint\n";
		return {std::nullopt, 2};
	}
	// LISTENQ_REFUSE / LISTENQ_SKIP_FUNCTIONS: kernel refusals and missing
	// functions on purpose (tests; a production kernel kept off a kind).
	std::vector<Refusal> refuse;
	if (const char *env = std::getenv("LISTENQ_REFUSE")) {
		auto r = parse_refusals(env);
		if (!r) {
			err << "listenq: " << r.error().message << '\n';
			return {std::nullopt, 2};
		}
		refuse = std::move(*r);
	}
	Cli cli(attach_default);
	CLI::App &app = cli.app;
	Options &o = cli.o;
	o.common.refuse = std::move(refuse);
	if (const char *env = std::getenv("LISTENQ_SKIP_FUNCTIONS"))
		o.common.skip_functions = split_list(env);
	std::vector<std::string> argv_store = {"listenq"};
	argv_store.insert(argv_store.end(), args.begin(), args.end());
	std::vector<char *> argv;
	for (auto &s : argv_store)
		argv.push_back(s.data());

	auto usage_error = [&](const std::string &msg) {
		CLI::App *sub = app.get_subcommands().empty() ? &app : app.get_subcommands().front();
		err << "listenq: " << msg << "\n\n" << sub->help();
		return ParseOutcome{std::nullopt, 2};
	};
	try {
		app.parse(static_cast<int>(argv.size()), argv.data());
	} catch (const CLI::CallForHelp &) {
		CLI::App *sub = app.get_subcommands().empty() ? &app : app.get_subcommands().front();
		out << sub->help();
		return {std::nullopt, 0};
	} catch (const CLI::CallForAllHelp &) {
		out << app.help("", CLI::AppFormatMode::All);
		return {std::nullopt, 0};
	} catch (const CLI::CallForVersion &e) {
		out << e.what() << '\n';
		return {std::nullopt, 0};
	} catch (const CLI::ParseError &e) {
		return usage_error(e.what());
	}

	if (o.filter.ipv4_only && o.filter.ipv6_only)
		return usage_error("-4 and -6 exclude each other");
	if (o.verify.sources.empty())
		return usage_error("--sources needs at least one of bpf, diag, proc");
	if (!parse_listen_address(o.exporter.listen))
		return usage_error("--listen " + o.exporter.listen + ": expected ADDR:PORT, [V6ADDR]:PORT or :PORT, with a numeric address (names are not resolved)");
	if (auto m = parse_metric_set(o.exporter.metrics); !m)
		return usage_error("--metrics " + o.exporter.metrics + ": " + m.error().message);
	if (!cli.export_ports.empty()) {
		auto p = parse_port_set(cli.export_ports);
		if (!p)
			return usage_error("--port " + cli.export_ports + ": " + p.error().message);
		o.exporter.ports = std::move(*p);
	}
	o.common.attach = *parse_attach_mode(cli.attach);
	if (cli.port)
		o.filter.port = static_cast<std::uint16_t>(cli.port);
	o.command = app.get_subcommands().front()->get_name();
	o.common.syscalls = o.command == "trace" ? !cli.no_syscalls : cli.syscalls;
	if (o.command == "hist")
		o.tracing.duration = cli.hist_secs;
	if (o.command == "doctor" && o.tracing.duration <= 0)
		o.tracing.duration = 10;
	return {o, 0};
}

ProbeScope CommonOptions::probe_scope(bool function_attach) const
{
	ProbeScope s;
	s.function_attach = function_attach;
	s.skip_functions = skip_functions;
	for (const Refusal &r : refuse)
		s.refuse.push_back(r.what);
	return s;
}

std::vector<CliCommandSpec> describe_cli()
{
	Cli cli("auto");
	auto flags_of = [](const CLI::App &a) {
		std::vector<std::string> v;
		for (const CLI::Option *opt : a.get_options()) {
			for (const std::string &n : opt->get_snames())
				v.push_back("-" + n);
			for (const std::string &n : opt->get_lnames())
				v.push_back("--" + n);
		}
		return v;
	};
	std::vector<CliCommandSpec> out{{"", flags_of(cli.app), cli.app.get_footer()}};
	for (const CLI::App *sub : cli.app.get_subcommands({}))
		out.push_back({sub->get_name(), flags_of(*sub), sub->get_footer()});
	return out;
}

std::optional<ListenAddress> parse_listen_address(const std::string &s)
{
	const std::size_t colon = s.rfind(':');
	if (colon == std::string::npos || colon + 1 == s.size() || colon + 6 < s.size())
		return std::nullopt;
	ListenAddress a;
	a.host = s.substr(0, colon);
	if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') {
		a.host = a.host.substr(1, a.host.size() - 2);
		a.family = AF_INET6;
	} else if (a.host.find(':') != std::string::npos) {
		return std::nullopt;  // an IPv6 address needs brackets
	}
	if (a.host.empty() && a.family == AF_INET)
		a.host = "0.0.0.0";
	// Numeric only: no getaddrinfo(), so no NSS (the static build cannot
	// load NSS modules), and one code path for both builds.
	in6_addr bytes;
	if (::inet_pton(a.family, a.host.c_str(), &bytes) != 1)
		return std::nullopt;
	unsigned port = 0;
	for (std::size_t i = colon + 1; i < s.size(); i++) {
		if (s[i] < '0' || s[i] > '9')
			return std::nullopt;
		port = port * 10 + static_cast<unsigned>(s[i] - '0');
	}
	if (port == 0 || port > 65535)
		return std::nullopt;
	a.port = static_cast<std::uint16_t>(port);
	return a;
}

}  // namespace listenq
