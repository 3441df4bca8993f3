// listenq benchmarks (issue 6). Ratios measured within one run: traced vs
// untraced accept rate, listenq snapshot vs ss -lnt vs /proc, start-up,
// memory and event pressure. Prints markdown sections; bench/run.sh adds
// the machine header and writes bench/RESULTS.md. Never asserts a time.
//
// Every load stays on loopback in the network namespace this process is in
// (bench/run.sh puts it in a private one), bounded in count.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "gunzip.h"
#include "net_helpers.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0)
{
	return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Stats {
	double min = 0, median = 0, max = 0;
};

Stats stats_of(std::vector<double> v)
{
	if (v.empty())
		return {};
	std::sort(v.begin(), v.end());
	const std::size_t n = v.size();
	const double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return {v.front(), med, v.back()};
}

std::string fmt(double v, int prec = 3)
{
	char b[64];
	std::snprintf(b, sizeof(b), "%.*f", prec, v);
	return b;
}

std::string row(const std::string &name, const Stats &s, int prec = 3)
{
	return "| " + name + " | " + fmt(s.min, prec) + " | " + fmt(s.median, prec) + " | " + fmt(s.max, prec) + " |";
}

// One "key=value" line for bench/run.sh's goal table, appended to the file
// $LISTENQ_BENCH_GOALS names (nothing without it).
void goal(const std::string &key, double value)
{
	const char *path = std::getenv("LISTENQ_BENCH_GOALS");
	if (!path || !*path)
		return;
	std::string k;
	for (char ch : key)  // "default, gzip" -> "default_gzip"
		if (std::isalnum(static_cast<unsigned char>(ch)))
			k += ch;
		else if (!k.empty() && k.back() != '_')
			k += '_';
	if (FILE *f = std::fopen(path, "a")) {
		std::fprintf(f, "%s=%.3f\n", k.c_str(), value);
		std::fclose(f);
	}
}

// ---- processes: tests/common's (fork, exec, wait4) ----------------------

using listenq::testing::RunResult;
using listenq::testing::SpawnOptions;
using listenq::testing::Spawned;

// CPU for spawned listenq processes (-1: inherit); see bench_overhead.
int g_child_cpu = -1;

void pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

// argv with its program as a path (tests/common execs it as given).
std::vector<std::string> resolved(std::vector<std::string> argv)
{
	if (argv[0].find('/') == std::string::npos)
		if (std::string p = listenq::testing::which(argv[0]); !p.empty())
			argv[0] = p;
	return argv;
}

// A child on g_child_cpu; a stream not kept goes to /dev/null.
SpawnOptions child(bool keep_out, bool keep_err)
{
	SpawnOptions o;
	o.keep_out = keep_out;
	o.keep_err = keep_err;
	o.cpu = g_child_cpu;
	return o;
}

// Whole-process wall time of one run (stdout discarded, as a user piping it).
RunResult run_timed(const std::vector<std::string> &argv, bool keep_err = true)
{
	return listenq::testing::run_program(resolved(argv), child(false, keep_err));
}

bool ok(const RunResult &f) { return f.exit_code == 0; }

// Reaps a spawned child that is ending: its exit code, stderr and usage.
RunResult finish(Spawned &s)
{
	RunResult r;
	std::vector<std::string> rest;
	r.exit_code = s.wait(std::chrono::seconds(60), rest, r.err);
	r.usage = s.usage();
	return r;
}

// Ends a spawned child (SIGINT, SIGTERM ...) and reaps it.
RunResult stop(Spawned &s, int sig)
{
	s.signal(sig);
	return finish(s);
}

// Seconds from exec to the first line on stdout (then the child is stopped).
std::optional<double> time_to_first_output(const std::vector<std::string> &argv, int timeout_ms)
{
	auto t0 = Clock::now();
	Spawned s(resolved(argv), child(true, false));
	std::optional<double> t;
	if (s.read_line(std::chrono::milliseconds(timeout_ms)))
		t = seconds_since(t0);
	stop(s, SIGINT);
	return t;
}

// ---- sockets -------------------------------------------------------------

// A listener on addr:port kept open (a farm's: until its process ends),
// or -1.
int listen_on(const std::string &addr, std::uint16_t port, int backlog)
{
	auto l = listenq::testing::make_listener(addr, port, backlog);
	return l ? l->release() : -1;
}

// Opens and closes n connections against a server thread that accepts
// and closes at once; returns connections per second.
double accept_rate(int n)
{
	int l = listen_on("127.0.0.1", 0, 4096);
	if (l < 0) {
		std::perror("listen");
		std::exit(1);
	}
	const std::uint16_t port = listenq::testing::local_port(l);
	std::thread server([&] {
		for (int i = 0; i < n; i++) {
			int c = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
			if (c >= 0)
				close(c);
		}
	});
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	auto t0 = Clock::now();
	for (int i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		// RST on close: no TIME_WAIT pile-up over a long run
		linger lg{1, 0};
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (connect(c, reinterpret_cast<sockaddr *>(&a), sizeof(a))) {
			std::perror("connect");
			std::exit(1);
		}
		close(c);
	}
	server.join();
	const double s = seconds_since(t0);
	close(l);
	return n / s;
}

// n listeners spread over helper processes (the open-file hard limit here
// is 20000): addresses 127.0.0.1.., ports 10000.. Returns the helpers.
struct ListenerFarm {
	std::vector<pid_t> helpers;
	~ListenerFarm()
	{
		for (pid_t p : helpers)
			kill(p, SIGKILL);
		for (pid_t p : helpers)
			waitpid(p, nullptr, 0);
	}
};

// A helper process that runs setup (its listeners stay open), says it is
// ready and waits to be killed by the farm.
bool start_helper(ListenerFarm &farm, const std::function<bool()> &setup)
{
	int ready[2];
	if (pipe2(ready, O_CLOEXEC))
		return false;
	pid_t p = fork();
	if (p == 0) {
		close(ready[0]);
		char c = 'r';
		if (!setup() || write(ready[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	char c;
	const bool up = read(ready[0], &c, 1) == 1;
	close(ready[0]);
	farm.helpers.push_back(p);
	return up;
}

bool make_farm(ListenerFarm &farm, int n)
{
	constexpr int kPerHelper = 15000, kPorts = 50000;
	for (int start = 0; start < n; start += kPerHelper) {
		const int count = std::min(kPerHelper, n - start);
		const bool up = start_helper(farm, [&] {
			rlimit rl{};
			getrlimit(RLIMIT_NOFILE, &rl);
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			for (int i = start; i < start + count; i++) {
				const std::string addr = "127.0.0." + std::to_string(1 + i / kPorts);
				if (listen_on(addr, static_cast<std::uint16_t>(10000 + i % kPorts), 128) < 0) {
					std::perror("listener farm");
					return false;
				}
			}
			return true;
		});
		if (!up)
			return false;
	}
	return true;
}

// ---- benchmarks ----------------------------------------------------------

struct Common {
	std::string listenq = "listenq";
	std::string attach;  // empty: listenq's default
	bool smoke = false;
};

std::vector<std::string> lq(const Common &c, std::vector<std::string> rest)
{
	std::vector<std::string> a{c.listenq};
	if (!c.attach.empty())
		a.push_back("--attach=" + c.attach);
	a.insert(a.end(), rest.begin(), rest.end());
	return a;
}

// The tier of a watch or trace JSON header.
std::string tier_of(const std::string &json_line)
{
	const auto j = nlohmann::json::parse(json_line, nullptr, false);
	return j.is_object() && j.contains("tier") && j["tier"].is_string() ? j["tier"].get<std::string>() : "?";
}

int bench_overhead(const Common &c, int pairs, int conns, bool syscalls)
{
	std::vector<double> ratios, untraced, traced, lq_cpu;
	std::string tier = "?";
	// Scheduler noise dominates on 2 vCPUs: the load (client, server and
	// their softirqs) runs on the last CPU, listenq's user space on CPU 0.
	// The BPF programs run where the load runs, so their cost is measured;
	// listenq's own CPU time is reported apart.
	const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu >= 2) {
		pin_to(static_cast<int>(ncpu - 1));
		g_child_cpu = 0;
	}
	accept_rate(std::max(200, conns / 10));  // warm-up
	for (int i = 0; i < pairs; i++) {
		const double a = accept_rate(conns);
		std::vector<std::string> args{"watch", "0.5", "100000", "--json"};
		if (syscalls)
			args.push_back("--syscalls");
		Spawned w(resolved(lq(c, args)), child(true, true));
		auto first = w.read_line(std::chrono::seconds(60));
		if (!first) {
			RunResult f = stop(w, SIGKILL);
			std::fprintf(stderr, "overhead: listenq watch did not start: %s\n", f.err.c_str());
			return 1;
		}
		tier = tier_of(*first);
		const double b = accept_rate(conns);
		RunResult f = stop(w, SIGINT);
		if (!ok(f)) {
			std::fprintf(stderr, "overhead: listenq watch failed: %s\n", f.err.c_str());
			return 1;
		}
		untraced.push_back(a);
		traced.push_back(b);
		ratios.push_back(b / a);
		lq_cpu.push_back(f.usage.cpu_s);
	}
	goal(syscalls ? "accept_ratio_syscalls" : "accept_ratio", stats_of(ratios).median);
	std::printf("### Accept path: connections/s untraced (A) vs `listenq watch%s` attached (B)\n\n",
		    syscalls ? " --syscalls" : "");
	std::printf("tier `%s`, %d pairs A B A B ..., %d connections per run (connect + accept + close, "
		    "loopback, private netns)\n\n",
		    tier.c_str(), pairs, conns);
	std::printf("| figure | min | median | max |\n|---|---|---|---|\n");
	std::printf("%s\n", row("untraced conn/s", stats_of(untraced), 0).c_str());
	std::printf("%s\n", row("traced conn/s", stats_of(traced), 0).c_str());
	std::printf("%s\n\n", row("**ratio traced/untraced (per pair)**", stats_of(ratios)).c_str());
	std::printf("load pinned to CPU %ld, listenq on CPU 0 (%s); listenq watch CPU time per traced run "
		    "(start-up included): median %s s\n\n",
		    ncpu - 1, ncpu >= 2 ? "pinned" : "not pinned: 1 CPU", fmt(stats_of(lq_cpu).median).c_str());
	std::printf("per-pair ratios:");
	for (double r : ratios)
		std::printf(" %s", fmt(r).c_str());
	std::printf("\n\n");
	return 0;
}

// LISTENQ_TIMING=1 lines ("listenq timing: open 0.15 ms, ..., total 3.2 ms"):
// each step's times, in the order the steps came, plus "process start and
// exit" (the run's wall time less listenq's own total).
struct StepTimes {
	std::vector<std::string> order;
	std::vector<std::vector<double>> ms;
	void add(const std::string &step, double v)
	{
		auto it = std::find(order.begin(), order.end(), step);
		if (it == order.end()) {
			order.push_back(step);
			ms.emplace_back();
			it = order.end() - 1;
		}
		ms[static_cast<std::size_t>(it - order.begin())].push_back(v);
	}
	std::optional<double> median(const std::string &step) const
	{
		auto it = std::find(order.begin(), order.end(), step);
		if (it == order.end())
			return std::nullopt;
		return stats_of(ms[static_cast<std::size_t>(it - order.begin())]).median;
	}
};

bool add_timing(StepTimes &st, const RunResult &f)
{
	const std::string tag = "listenq timing:";
	const std::size_t at = f.err.find(tag);
	if (at == std::string::npos)
		return false;
	std::string line = f.err.substr(at + tag.size());
	line = line.substr(0, line.find('\n'));
	double total = 0;
	std::size_t pos = 0;
	while (pos < line.size()) {
		std::size_t end = line.find(',', pos);
		std::string item = line.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
		pos = end == std::string::npos ? line.size() : end + 1;
		// " name with spaces 1.234 ms"
		const std::size_t ms = item.rfind(" ms"), num = item.rfind(' ', ms - 1);
		if (ms == std::string::npos || num == std::string::npos)
			continue;
		const std::string name = item.substr(item.find_first_not_of(' '), num - item.find_first_not_of(' '));
		const double v = std::atof(item.substr(num + 1, ms - num - 1).c_str());
		if (name == "total")
			total = v;
		else
			st.add(name, v);
	}
	st.add("process start and exit (wall less total)", f.usage.wall_s * 1e3 - total);
	st.add("wall", f.usage.wall_s * 1e3);
	return true;
}

// `listenq snapshot` step by step (LISTENQ_TIMING=1), with the iter/tcp
// image of an earlier run (the usual case) and without one
// (LISTENQ_CACHE_DIR empty: libbpf parses the vmlinux BTF and relocates).
std::vector<std::string> snapshot_breakdown(const Common &c, int n, int reps)
{
	StepTimes with, without;
	const auto argv = lq(c, {"snapshot"});
	::setenv("LISTENQ_TIMING", "1", 1);
	for (int r = 0; r < reps; r++) {
		add_timing(with, run_timed(argv));
		::setenv("LISTENQ_CACHE_DIR", "", 1);
		add_timing(without, run_timed(argv));
		::unsetenv("LISTENQ_CACHE_DIR");
	}
	::unsetenv("LISTENQ_TIMING");
	// Both runs' steps in one list: the load steps of either before "attach".
	std::vector<std::string> steps = with.order;
	for (const std::string &s : without.order)
		if (std::find(steps.begin(), steps.end(), s) == steps.end())
			steps.insert(std::find(steps.begin(), steps.end(), "attach"), s);
	std::vector<std::string> rows;
	for (const std::string &s : steps) {
		auto a = with.median(s), b = without.median(s);
		rows.push_back("| " + std::to_string(n) + " | " + s + " | " + (a ? fmt(*a, 2) : "-") + " | " +
			       (b ? fmt(*b, 2) : "-") + " |");
	}
	return rows;
}

int bench_snapshot(const Common &c, const std::vector<int> &counts, int reps)
{
	std::printf("### Snapshot at scale: whole-process wall time, seconds (runs alternate)\n\n");
	std::printf("%d rounds per size; each round runs `listenq snapshot`, `ss -lnt`, `cat /proc/net/tcp`, "
		    "`nstat -az` once, stdout to /dev/null; BPF load and verification included.\n\n",
		    reps);
	std::printf("| listeners | command | min | median | max |\n|---|---|---|---|---|\n");
	std::vector<std::string> ratio_rows, step_rows;
	for (int n : counts) {
		ListenerFarm farm;
		if (!make_farm(farm, n)) {
			std::fprintf(stderr, "snapshot: could not create %d listeners\n", n);
			return 1;
		}
		const std::vector<std::pair<std::string, std::vector<std::string>>> cmds = {
			{"`listenq snapshot`", lq(c, {"snapshot"})},
			{"`ss -lnt`", {"ss", "-lnt"}},
			{"`cat /proc/net/tcp`", {"cat", "/proc/net/tcp"}},
			{"`nstat -az` (counters only)", {"nstat", "-az"}},
		};
		std::vector<std::vector<double>> t(cmds.size());
		std::vector<double> ratio;
		for (auto &[name, argv] : cmds)  // warm-up: page cache, BTF
			run_timed(argv);
		for (int r = 0; r < reps; r++) {
			for (std::size_t i = 0; i < cmds.size(); i++) {
				RunResult f = run_timed(cmds[i].second);
				if (!ok(f)) {
					std::fprintf(stderr, "snapshot: %s failed: %s\n", cmds[i].first.c_str(), f.err.c_str());
					return 1;
				}
				t[i].push_back(f.usage.wall_s);
			}
			ratio.push_back(t[0].back() / t[1].back());
		}
		for (std::size_t i = 0; i < cmds.size(); i++) {
			Stats s = stats_of(t[i]);
			std::printf("| %d | %s | %s | %s | %s |\n", n, cmds[i].first.c_str(), fmt(s.min, 4).c_str(),
				    fmt(s.median, 4).c_str(), fmt(s.max, 4).c_str());
		}
		Stats rs = stats_of(ratio);
		goal("snapshot_ratio_" + std::to_string(n), rs.median);
		ratio_rows.push_back("| " + std::to_string(n) + " | " + fmt(rs.min) + " | " + fmt(rs.median) + " | " +
				     fmt(rs.max) + " |");
		for (std::string &r : snapshot_breakdown(c, n, reps))
			step_rows.push_back(std::move(r));
	}
	std::printf("\n**Ratio `listenq snapshot` / `ss -lnt` (per round)**\n\n| listeners | min | median | max |\n"
		    "|---|---|---|---|\n");
	for (auto &r : ratio_rows)
		std::printf("%s\n", r.c_str());
	std::printf("\n**`listenq snapshot` step by step** (`LISTENQ_TIMING=1`; median ms of %d runs each; with the "
		    "iter/tcp image an earlier run left in /run/listenq, and without one: `LISTENQ_CACHE_DIR=` makes "
		    "libbpf parse the vmlinux BTF and apply CO-RE as a first run does)\n\n"
		    "| listeners | step | with image | without image |\n|---|---|---|---|\n",
		    reps);
	for (auto &r : step_rows)
		std::printf("%s\n", r.c_str());
	std::printf("\n");
	return 0;
}

// One GET /metrics over a plain socket, as a scraper does it: the time
// runs to the last byte of the body. With gzip, the request says
// Accept-Encoding: gzip (Prometheus does).
struct RawGet {
	double seconds = 0;
	std::size_t wire_bytes = 0;  // the body as sent (gzipped or not; without the chunks' framing)
	bool gzipped = false;
	std::string body;            // inflated
};

// cpp-httplib's client, as the integration tests'; the body as sent
// (decompression off), inflated by tests/common's gunzip after the clock
// stops.
std::optional<RawGet> raw_get_metrics(std::uint16_t port, bool gzip)
{
	const auto t0 = Clock::now();
	httplib::Client cl("127.0.0.1", port);
	cl.set_connection_timeout(2);
	cl.set_read_timeout(60);
	cl.set_decompress(false);
	httplib::Headers h;
	if (gzip)
		h.emplace("Accept-Encoding", "gzip");
	auto r = cl.Get("/metrics", h);
	RawGet g;
	g.seconds = seconds_since(t0);
	if (!r || r->status != 200)
		return std::nullopt;
	g.gzipped = r->get_header_value("Content-Encoding") == "gzip";
	g.wire_bytes = r->body.size();
	g.body = std::move(r->body);
	if (g.gzipped) {
		auto b = listenq::testing::gunzip(g.body);
		if (!b)
			return std::nullopt;
		g.body = std::move(*b);
	}
	return g;
}

// One HTTP GET of /metrics on 127.0.0.1:port: the body, or nullopt.
std::optional<std::string> http_get_metrics(std::uint16_t port)
{
	auto g = raw_get_metrics(port, false);
	return g ? std::optional<std::string>(g->body) : std::nullopt;
}

// `listenq export`: a scrape's wall time (client side) against `ss -lnt`
// over the same listeners, alternating, per mode; the exporter's own
// figure; the body's size as sent and as text.
// Long: one table: per count and mode, the scrape against ss, alternating.
int bench_export(const Common &c, const std::vector<int> &counts, int reps)
{
	constexpr std::uint16_t kPort = 9464;  // below the listener farm's ports (10000..59999)
	struct Mode {
		const char *name;
		std::vector<std::string> flags;
		bool gzip;
	};
	// default and full as a user gets them (--group-by auto: per listener
	// up to 1000, then per port), and the shape of every series per
	// listener (what export wrote before --metrics and --group-by).
	const std::vector<Mode> modes = {
		{"default", {}, false},
		{"default, gzip", {}, true},
		{"full", {"--metrics", "full"}, false},
		{"full, gzip", {"--metrics", "full"}, true},
		{"full per listener", {"--metrics", "full", "--group-by", "listener"}, false},
		{"full per listener, gzip", {"--metrics", "full", "--group-by", "listener"}, true},
	};
	std::printf("### Prometheus scrape at scale: seconds (scrape and `ss -lnt` alternate)\n\n");
	std::printf("%d rounds per size and mode; a round is one GET /metrics of a running `listenq export` (it samples, "
		    "reads the map, renders; the clock stops at the body's last byte) and one whole `ss -lnt` run. "
		    "The farm has one listener per port from 10000 up, so ports from 32768 fold into `ephemeral` "
		    "when grouped by port (at 50k: 27232 of them). Modes: `default` and `full` are "
		    "`--metrics default|full` with `--group-by auto` (per listener up to 1000 listeners, per port "
		    "above); `per listener` is `--group-by listener`, the shape of every scrape before. gzip: the "
		    "request has `Accept-Encoding: gzip`, as Prometheus's.\n\n",
		    reps);
	std::printf("| listeners | mode | body KiB sent (text) | series | GET min | GET median | GET max | "
		    "listenq_scrape_duration_seconds median | `ss -lnt` median | ratio GET / `ss -lnt` median (min-max) |\n"
		    "|---|---|---|---|---|---|---|---|---|---|\n");
	for (int n : counts) {
		ListenerFarm farm;
		if (!make_farm(farm, n)) {
			std::fprintf(stderr, "export: could not create %d listeners\n", n);
			return 1;
		}
		for (std::size_t m = 0; m < modes.size(); m += 2) {  // an exporter serves a mode with and without gzip
			std::vector<std::string> args = {"export", "--listen", "127.0.0.1:" + std::to_string(kPort)};
			args.insert(args.end(), modes[m].flags.begin(), modes[m].flags.end());
			Spawned ex(resolved(lq(c, args)), child(false, true));
			std::optional<std::string> body;
			for (int i = 0; i < 300 && !ex.exited() && !(body = http_get_metrics(kPort)); i++)
				std::this_thread::sleep_for(std::chrono::milliseconds(100));
			if (!body) {
				std::fprintf(stderr, "export: no answer on :%u: %s\n", kPort, stop(ex, SIGKILL).err.c_str());
				return 1;
			}
			for (std::size_t k = m; k < m + 2; k++) {
				std::vector<double> scrape, ss, ratio, reported;
				std::size_t wire = 0, text = 0, series = 0;
				for (int r = 0; r < reps; r++) {
					auto g = raw_get_metrics(kPort, modes[k].gzip);
					if (!g || g->gzipped != modes[k].gzip) {
						std::fprintf(stderr, "export: a scrape failed (%s)\n", modes[k].name);
						stop(ex, SIGKILL);
						return 1;
					}
					scrape.push_back(g->seconds);
					wire = g->wire_bytes;
					text = g->body.size();
					series = 0;
					for (std::size_t p = 0; (p = g->body.find('\n', p)) != std::string::npos; p++)
						series += p + 1 < g->body.size() && g->body[p + 1] != '#';
					const std::string key = "\nlistenq_scrape_duration_seconds ";
					if (auto p = g->body.find(key); p != std::string::npos)
						reported.push_back(std::stod(g->body.substr(p + key.size())));
					RunResult f = run_timed({"ss", "-lnt"});
					ss.push_back(f.usage.wall_s);
					ratio.push_back(scrape.back() / ss.back());
				}
				const Stats sc = stats_of(scrape), rs = stats_of(ratio);
				goal(std::string("scrape_ratio_") + std::to_string(n) + "_" + modes[k].name, rs.median);
				std::printf("| %d | %s | %zu (%zu) | %zu | %s | %s | %s | %s | %s | **%s** (%s-%s) |\n", n,
					    modes[k].name, wire / 1024, text / 1024, series, fmt(sc.min, 4).c_str(),
					    fmt(sc.median, 4).c_str(), fmt(sc.max, 4).c_str(),
					    fmt(stats_of(reported).median, 4).c_str(), fmt(stats_of(ss).median, 4).c_str(),
					    fmt(rs.median, 2).c_str(), fmt(rs.min, 2).c_str(), fmt(rs.max, 2).c_str());
			}
			stop(ex, SIGTERM);
		}
	}
	std::printf("\n");
	return 0;
}

// Peak RSS (MiB) of a running `listenq export` (plus extra arguments)
// after `scrapes` GET /metrics; nullopt on failure.
std::optional<double> export_peak_rss(const Common &c, const std::vector<std::string> &extra, int scrapes)
{
	constexpr std::uint16_t kPort = 9465;  // below the listener farm's ports (10000..59999)
	std::vector<std::string> args{"export", "--listen", "127.0.0.1:" + std::to_string(kPort)};
	args.insert(args.end(), extra.begin(), extra.end());
	Spawned ex(resolved(lq(c, args)), child(false, true));
	std::optional<std::string> body;
	for (int i = 0; i < 300 && !ex.exited() && !(body = http_get_metrics(kPort)); i++)
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	for (int i = 1; body && i < scrapes; i++)
		body = http_get_metrics(kPort);
	RunResult f = stop(ex, SIGTERM);
	if (!body || !ok(f)) {
		std::fprintf(stderr, "rss: listenq export failed: %s\n", f.err.c_str());
		return std::nullopt;
	}
	return static_cast<double>(f.usage.maxrss_kib) / 1024.0;
}

int bench_startup(const Common &c, int listeners, int reps, int rss_listeners)
{
	std::printf("### Start-up and memory\n\n");
	std::vector<double> snap, watch;
	{
		ListenerFarm farm;
		if (!make_farm(farm, listeners))
			return 1;
		for (int r = 0; r < reps; r++) {
			auto s = time_to_first_output(lq(c, {"snapshot"}), 10000);
			// watch 0.1: the first frame is due 100 ms after attach
			auto w = time_to_first_output(lq(c, {"watch", "0.1", "1"}), 10000);
			if (!s || !w) {
				std::fprintf(stderr, "startup: no output\n");
				return 1;
			}
			snap.push_back(*s);
			watch.push_back(*w);
		}
	}
	std::printf("exec to first line on stdout, %d listeners, %d runs, seconds\n\n", listeners, reps);
	std::printf("| figure | min | median | max |\n|---|---|---|---|\n");
	std::printf("%s\n", row("`listenq snapshot`", stats_of(snap), 4).c_str());
	std::printf("%s\n\n", row("`listenq watch 0.1 1` (first frame after 0.1 s)", stats_of(watch), 4).c_str());

	ListenerFarm farm;
	if (!make_farm(farm, rss_listeners))
		return 1;
	std::vector<double> rss;
	for (int r = 0; r < std::max(1, reps / 3); r++) {
		RunResult f = run_timed(lq(c, {"watch", "1", "2", "--json"}));
		if (!ok(f)) {
			std::fprintf(stderr, "rss: listenq watch failed: %s\n", f.err.c_str());
			return 1;
		}
		rss.push_back(static_cast<double>(f.usage.maxrss_kib) / 1024.0);
	}
	std::vector<double> ex_rss, ex_rss_tracking;
	for (int r = 0; r < std::max(1, reps / 3); r++) {
		auto a = export_peak_rss(c, {}, 3);
		// --port 1: every listener tracked and read, none rendered (the
		// exporter's own state without the /metrics body)
		auto b = export_peak_rss(c, {"--port", "1"}, 3);
		if (!a || !b)
			return 1;
		ex_rss.push_back(*a);
		ex_rss_tracking.push_back(*b);
	}
	std::printf("peak RSS tracking %d listeners (wait4 ru_maxrss, the figure `/usr/bin/time -v` prints), MiB\n\n",
		    rss_listeners);
	std::printf("| figure | min | median | max |\n|---|---|---|---|\n");
	goal("rss_watch", stats_of(rss).median);
	goal("rss_export", stats_of(ex_rss).median);
	goal("rss_export_port1", stats_of(ex_rss_tracking).median);
	std::printf("%s\n", row("`listenq watch 1 2 --json`", stats_of(rss), 1).c_str());
	std::printf("%s\n", row("`listenq export`, 3 scrapes", stats_of(ex_rss), 1).c_str());
	std::printf("%s\n\n", row("`listenq export --port 1`, 3 scrapes (no listener rendered)", stats_of(ex_rss_tracking), 1).c_str());
	return 0;
}

// CPU time a process has used so far, ns (/proc/PID/schedstat, field 1).
double cpu_seconds_of(pid_t pid)
{
	FILE *f = std::fopen(("/proc/" + std::to_string(pid) + "/schedstat").c_str(), "r");
	unsigned long long ns = 0;
	if (f) {
		if (std::fscanf(f, "%llu", &ns) != 1)
			ns = 0;
		std::fclose(f);
	}
	return static_cast<double>(ns) / 1e9;
}

// Listener churn (listen + close) and connection churn while `listenq
// trace --json` runs: every listen and close is an event; none may be lost.
int bench_events(const Common &c, int listener_cycles, int conns, double max_seconds)
{
	Spawned t(resolved(lq(c, {"trace", "--json"})), child(true, true));
	auto header = t.read_line(std::chrono::seconds(60));
	if (!header) {
		std::fprintf(stderr, "events: listenq trace did not start: %s\n", stop(t, SIGKILL).err.c_str());
		return 1;
	}
	// Count lines concurrently so the pipe never fills (to its end: the
	// stdout EOF after SIGINT).
	long lines = 0;
	std::thread counter([&] {
		while (t.read_line(std::chrono::minutes(10)))
			lines++;
	});
	const double cpu0 = cpu_seconds_of(t.pid());  // start-up excluded
	auto t0 = Clock::now();
	int cycles = 0;
	for (; cycles < listener_cycles && seconds_since(t0) < max_seconds; cycles++) {
		int fd = listen_on("127.0.0.1", 0, 16);
		if (fd < 0) {
			std::perror("listen");
			break;
		}
		close(fd);
	}
	const double churn_s = seconds_since(t0);
	const double rate = accept_rate(conns);
	std::this_thread::sleep_for(std::chrono::milliseconds(500));  // drain
	const double load_cpu = cpu_seconds_of(t.pid()) - cpu0;
	t.signal(SIGINT);
	counter.join();
	RunResult f = finish(t);
	long events = -1, lost = -1;
	if (auto p = f.err.find("listenq trace: "); p != std::string::npos)
		std::sscanf(f.err.c_str() + p, "listenq trace: %ld events, %ld lost", &events, &lost);
	std::printf("### Event pressure: `listenq trace --json` under listener and connection churn\n\n");
	std::printf("| figure | value |\n|---|---|\n");
	std::printf("| tier | `%s` |\n", tier_of(*header).c_str());
	std::printf("| listen+close cycles | %d in %s s (%s cycles/s) |\n", cycles, fmt(churn_s, 2).c_str(),
		    fmt(cycles / churn_s, 0).c_str());
	std::printf("| connections (accept path) | %d at %s conn/s |\n", conns, fmt(rate, 0).c_str());
	// + the listen and close of accept_rate's own listener
	const long expected = 2L * cycles + 2;
	std::printf("| events expected (listen + close per cycle, + the connection server's) | %ld |\n", expected);
	std::printf("| events printed | %ld |\n", lines);
	std::printf("| events counted by listenq / **lost** | %ld / **%ld** |\n", events, lost);
	std::printf("| listenq CPU time: whole run / during the load | %s s / %s s |\n", fmt(f.usage.cpu_s, 3).c_str(),
		    fmt(load_cpu, 3).c_str());
	std::printf("| **listenq CPU ms per 1k events** (during the load) | %s |\n\n",
		    events > 0 ? fmt(load_cpu * 1000.0 / (static_cast<double>(events) / 1000.0), 2).c_str() : "n/a");
	if (lines != expected || lost != 0) {
		std::fprintf(stderr, "events: %ld printed, %ld expected, %ld lost\n", lines, expected, lost);
		return 2;
	}
	return 0;
}

// n listeners on 0.0.0.0:20000.. in each of netns_count new network
// namespaces (one helper process each; lo need not be up to listen).
bool make_netns_farm(ListenerFarm &farm, int netns_count, int per_netns)
{
	for (int ns = 0; ns < netns_count; ns++) {
		const bool up = start_helper(farm, [&] {
			if (unshare(CLONE_NEWNET) != 0)
				return false;
			for (int i = 0; i < per_netns; i++)
				if (listen_on("0.0.0.0", static_cast<std::uint16_t>(20000 + i), 128) < 0)
					return false;
			return true;
		});
		if (!up)
			return false;
	}
	return true;
}

// The queues fact's sources in `listenq probe --json` (under the caller's
// LISTENQ_REFUSE), joined by " + ".
std::string queues_way(const Common &c)
{
	const RunResult f = listenq::testing::run_program(resolved(lq(c, {"probe", "--json"})), child(true, false));
	const auto probe = nlohmann::json::parse(f.out, nullptr, false);
	if (!probe.is_object() || !probe.contains("plan"))
		return "?";
	std::string way;
	for (const auto &fact : probe["plan"].value("facts", nlohmann::json::array()))
		if (fact.value("fact", "") == "queues")
			for (const auto &m : fact.value("mechanisms", nlohmann::json::array()))
				way += (way.empty() ? "" : " + ") + m.get<std::string>();
	return way.empty() ? "?" : way;
}

// What a sample of the queues costs per sampler way, as the CPU time of
// the watch process (wait4), with `--port 1` (every listener tracked and
// read each frame, none rendered):
//  - per sample: `watch 1 <frames + 2>` minus `watch 1 2`, over the samples
//    of the extra frames (10 a second, the default): the frames' reads of
//    the map and of each netns's counters included;
//  - marginal: the same frames at --sample-ms 100 minus at 1000, over the
//    samples that adds: a sample alone (the passes every few seconds run
//    in both and cancel).
// The way is forced with LISTENQ_REFUSE; a kernel that refuses a program
// lands in the same row. listenq's own report (sample_us) is beside it.
// Long: one table: per way, the sample's CPU by wait4, 1 s against 100 ms.
int bench_sampler(const Common &c, int netns_count, int per_netns, int frames)
{
	ListenerFarm farm;
	if (!make_netns_farm(farm, netns_count, per_netns)) {
		std::printf("sampler: could not make the listeners\n");
		return 1;
	}
	std::printf("## Sample cost per sampler way\n\n");
	std::printf("%d listeners in each of %d network namespaces, each netns held by its own process (plus this "
		    "netns). CPU from wait4 (user + system) of `listenq watch 1 N --json --port 1` (every listener tracked "
		    "and read each frame, none rendered). Per sample: N = %d minus N = 2, over the %d samples of the %d "
		    "extra seconds (default --sample-ms 100): the frames' reads of the map and of each netns's counters "
		    "are in it. Marginal: N = %d at --sample-ms 100 minus at --sample-ms 1000, over the %d samples that "
		    "adds: one sample alone. listenq's own figure: the median `sample_us` of the frames (the last sample "
		    "of each). The way is forced with `LISTENQ_REFUSE`; a kernel that refuses a program lands in the "
		    "same row.\n\n",
		    per_netns, netns_count, frames + 2, frames * 10, frames, frames + 2, (frames + 2) * 9);
	std::printf("| LISTENQ_REFUSE | queues way (listenq probe) | CPU µs per sample (wait4) | CPU µs per sample, "
		    "marginal (wait4) | sample_us median (listenq's report) |\n|---|---|---|---|---|\n");
	// sample_busy: the busy pass (raw_tp, test run); refused, every sample
	// is the way's walk. sample_files_raw: the files walk where the
	// verifier refuses helpers on socket->sk (6.18 -fc-v1272); refusing
	// both files programs leaves per-netns iter/tcp alone.
	const char *ways[] = {"",
			      "sample_busy",
			      "sample_busy,sample_tracked",
			      "sample_busy,sample_tracked,sample_files",
			      "sample_busy,sample_tracked,sample_files,sample_files_raw",
			      "sample_tracked,sample_files,sample_files_raw"};
	for (const char *refuse : ways) {
		setenv("LISTENQ_REFUSE", refuse, 1);
		const std::string way = queues_way(c);
		auto run = [&](int n, const char *sample_ms, std::vector<double> *us) {
			Spawned w(resolved(lq(c, {"watch", "1", std::to_string(n), "--json", "--port", "1", "--sample-ms",
						   sample_ms})),
				  child(true, false));
			for (int i = 0; i < n; i++) {
				auto line = w.read_line(std::chrono::seconds(30));
				if (!line)
					break;
				const auto frame = nlohmann::json::parse(*line, nullptr, false);
				if (us && i > 0 && frame.is_object() && frame.contains("sample_us") && frame["sample_us"].is_number())
					us->push_back(frame["sample_us"].get<double>());
			}
			return finish(w);
		};
		std::vector<double> us;
		const RunResult shorter = run(2, "100", nullptr), longer = run(frames + 2, "100", &us),
			       slow = run(frames + 2, "1000", nullptr);
		unsetenv("LISTENQ_REFUSE");
		const double per = (longer.usage.cpu_s - shorter.usage.cpu_s) / (frames * 10) * 1e6;
		const double marginal = (longer.usage.cpu_s - slow.usage.cpu_s) / ((frames + 2) * 9) * 1e6;
		const bool good = ok(shorter) && ok(longer) && ok(slow);
		if (good) {
			goal(std::string("sample_cpu_us_") + (*refuse ? refuse : "none"), per);
			goal(std::string("sample_marginal_us_") + (*refuse ? refuse : "none"), marginal);
		}
		std::printf("| %s | %s | %s | %s | %s |\n", *refuse ? refuse : "(none)", way.c_str(),
			    good ? fmt(per, 0).c_str() : "failed", good ? fmt(marginal, 0).c_str() : "failed",
			    fmt(stats_of(us).median, 0).c_str());
	}
	std::printf("\n");
	return 0;
}

int peers_bpftrace()
{
	std::printf("### Peer: bpftrace `tcpsynbl.bt`\n\n");
	const char *script = nullptr;
	for (const char *p : {"/usr/sbin/tcpsynbl.bt", "/usr/share/bpftrace/tools/tcpsynbl.bt"})
		if (access(p, R_OK) == 0 && !script)
			script = p;
	if (access("/usr/bin/bpftrace", X_OK) != 0 || !script) {
		std::printf("bpftrace or tcpsynbl.bt not installed: not run.\n\n");
		return 0;
	}
	RunResult f = run_timed({"timeout", "5", "bpftrace", script});
	std::string msg = f.err;
	if (msg.size() > 400)
		msg.resize(400);
	std::printf("`bpftrace %s` on this kernel: exit %d.\n\n```\n%s\n```\n\n", script,
		    f.exit_code, msg.c_str());
	return 0;
}

}  // namespace

// Long: the bench's sub-commands and their flags.
int main(int argc, char **argv)
{
	CLI::App app{"listenq benchmarks: ratios measured in one run (never asserts a time)"};
	Common c;
	app.add_option("--listenq", c.listenq, "listenq binary");
	app.add_option("--attach", c.attach, "passed to listenq --attach");
	app.require_subcommand(1);

	int pairs = 20, conns = 10000;
	auto *ov = app.add_subcommand("overhead", "accept rate untraced vs with listenq watch, A B A B ...");
	ov->add_option("--pairs", pairs)->check(CLI::Range(1, 1000));
	ov->add_option("--conns", conns)->check(CLI::Range(10, 10000000));
	bool ov_syscalls = false;
	ov->add_flag("--syscalls", ov_syscalls, "watch with the raw syscall hooks (default: watch's own default, without)");

	std::vector<int> counts{1000, 10000, 50000};
	int reps = 7;
	auto *sn = app.add_subcommand("snapshot", "listenq snapshot vs ss -lnt vs /proc at 1k/10k/50k listeners");
	sn->add_option("--counts", counts)->delimiter(',');
	sn->add_option("--reps", reps)->check(CLI::Range(1, 1000));

	int listeners = 1000, rss_listeners = 50000, st_reps = 9;
	auto *su = app.add_subcommand("startup", "exec to first output; peak RSS of watch and export");
	su->add_option("--listeners", listeners);
	su->add_option("--rss-listeners", rss_listeners);
	su->add_option("--reps", st_reps)->check(CLI::Range(1, 1000));

	int cycles = 20000, ev_conns = 20000;
	double max_s = 20;
	auto *ev = app.add_subcommand("events", "listener + connection churn under listenq trace: lost events");
	ev->add_option("--cycles", cycles)->check(CLI::Range(1, 10000000));
	ev->add_option("--conns", ev_conns)->check(CLI::Range(1, 10000000));
	ev->add_option("--max-seconds", max_s);

	std::vector<int> ex_counts{1000, 10000};
	int ex_reps = 7;
	auto *ex = app.add_subcommand("export", "GET /metrics of listenq export (default, full, gzip) vs ss -lnt at 1k/10k/50k");
	ex->add_option("--counts", ex_counts)->delimiter(',');
	ex->add_option("--reps", ex_reps)->check(CLI::Range(1, 1000));

	int sm_netns = 8, sm_per = 100, sm_frames = 6;
	auto *sm = app.add_subcommand("sampler", "cost of a sample per sampler way (tracked, iter/tcp, iter/task_file)");
	sm->add_option("--netns", sm_netns)->check(CLI::Range(1, 200));
	sm->add_option("--per-netns", sm_per)->check(CLI::Range(1, 15000));
	sm->add_option("--frames", sm_frames)->check(CLI::Range(2, 1000));

	app.add_subcommand("bpftrace", "try bpftrace's tcpsynbl.bt here and record what happens");
	CLI11_PARSE(app, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	std::setvbuf(stdout, nullptr, _IOLBF, 0);
	if (*ov)
		return bench_overhead(c, pairs, conns, ov_syscalls);
	if (*sn)
		return bench_snapshot(c, counts, reps);
	if (*su)
		return bench_startup(c, listeners, st_reps, rss_listeners);
	if (*ev)
		return bench_events(c, cycles, ev_conns, max_s);
	if (*ex)
		return bench_export(c, ex_counts, ex_reps);
	if (*sm)
		return bench_sampler(c, sm_netns, sm_per, sm_frames);
	return peers_bpftrace();
}
