// listenq doctor: runs the tracer for a window, one interval per second,
// and gathers what diagnose() needs: per-listener counts and peaks, each
// netns's settings and TcpExt counters, whether tcp_diag answers.

#include <map>
#include <set>
#include <unordered_map>

#include "cli/commands.h"
#include "cli/tracing_loop.h"
#include "doctor/findings.h"
#include "render/doctor_render.h"
#include "sources/inet_diag.h"
#include "sources/proc_net.h"
#include "sources/proc_owners.h"
#include "util/clock.h"

namespace listenq {

namespace {

// The settings of the netns this thread is in.
void read_netns_settings(NetnsObservation &ns)
{
	ns.somaxconn = read_sysctl_u32("net/core/somaxconn");
	ns.max_syn_backlog = read_sysctl_u32("net/ipv4/tcp_max_syn_backlog");
	ns.syncookies = read_sysctl_u32("net/ipv4/tcp_syncookies");
	ns.abort_on_overflow = read_sysctl_u32("net/ipv4/tcp_abort_on_overflow");
}

// TcpExt counters of these netns (those that can be entered).
Result<std::map<std::uint32_t, ListenCounters>> counters_of(Tracer &t, const std::set<std::uint32_t> &netns)
{
	std::map<std::uint32_t, ListenCounters> out;
	for (std::uint32_t ns : netns) {
		auto c = t.netns_counters(ns);
		if (!c)
			return c.error();
		if (*c)
			out[ns] = **c;
	}
	return out;
}

// A head of the queue older than this means the acceptor had work all
// along in that second: one with spare capacity takes it sooner.
constexpr std::uint32_t kBusyHeadWaitUs = 100000;

// The window's per-listener accumulation, by tracer key.
struct Window {
	std::unordered_map<std::uint64_t, ListenerObservation> obs;
	// Order of first sight: the input's listeners keep it.
	std::vector<std::uint64_t> order;

	void add(const WatchRow &r)
	{
		const ListenerStat &s = *r.now;
		auto [it, added] = obs.try_emplace(s.key);
		if (added)
			order.push_back(s.key);
		ListenerObservation &o = it->second;
		const std::uint32_t peak = std::max(o.accept_queue_peak, s.accept_queue_peak);
		const std::uint32_t synq_peak = std::max(o.syn_queue_peak, s.syn_queue_peak);
		const std::uint32_t hol_peak = std::max(o.hol_wait_peak_us, s.hol_wait_peak_us);
		o.id = s.id;
		o.pid = s.owner_pid;
		o.comm = s.owner_comm;
		if (s.cgroup && (!o.cgroup || !(*o.cgroup == *s.cgroup)))
			o.cgroup = *s.cgroup;  // a copy: the tracer's cache may drop it once the listener is gone
		o.backlog = s.backlog;
		o.requested_backlog = s.requested_backlog;
		o.accept_queue = s.accept_queue;
		o.accept_queue_peak = peak;
		o.syn_queue_peak = synq_peak;
		o.hol_wait_peak_us = hol_peak;
		o.hol_wait_us = s.hol_wait_us;
		o.seconds++;
		if (s.accept_queue_peak >= std::max(s.backlog, 1u))  // at the limit: one short of full, or full
			o.seconds_full++;
		// The acceptor had work all along: an old head (kBusyHeadWaitUs),
		// or a queue at its limit (a syncookie head has no age in tier 3).
		if (s.hol_wait_peak_us >= kBusyHeadWaitUs || s.accept_queue_peak >= std::max(s.backlog, 1u))
			o.seconds_busy++;
		o.overflow_syn = s.overflow_syn;
		o.overflow_ack = s.overflow_ack;
		o.enqueued = s.enqueued;
		o.accepted = s.accepted;
		o.peak_accepts_per_s = std::max(o.peak_accepts_per_s, r.accepts_per_s);
		o.synack_retrans = s.synack_retrans;
		o.synq_full_drops = s.synq_full_drops;
		o.synq_full_cookies = s.synq_full_cookies;
		o.syncookies_sent = s.syncookies_sent;
	}
};

// diagnose()'s input from the window: the listeners in order of first
// sight with their owners' command lines and states, each netns's
// settings and TcpExt rise over the window, and whether tcp_diag answers.
Result<DoctorInput> assemble_input(const Options &o, Tracer &t, Window &w, double seconds, std::set<std::uint32_t> netns,
				   const std::map<std::uint32_t, ListenCounters> &start)
{
	const FieldSources &fields = t.plan().fields;
	DoctorInput in;
	in.seconds = seconds;
	in.tier = t.tier();
	in.syscalls = t.plan().syscalls;
	for (TraceField f : {TraceField::enqueued, TraceField::accepted, TraceField::accept_wait,
			     TraceField::requested_backlog, TraceField::synack_retrans, TraceField::overflow_ack})
		if (!fields.measured(f))
			in.unmeasured.emplace_back(field_name(f));
	std::unordered_map<std::uint32_t, std::pair<std::string, std::string>> procs;  // pid -> cmdline, state
	for (std::uint64_t key : w.order) {
		ListenerObservation l = std::move(w.obs[key]);
		if (!fields.measured(TraceField::enqueued))
			l.enqueued.reset();
		if (l.pid) {
			auto [it, added] = procs.try_emplace(l.pid);
			if (added)
				it->second = {read_cmdline(l.pid), read_process_state(l.pid)};
			l.cmdline = it->second.first;
			l.state = it->second.second;
		}
		netns.insert(l.id.netns);
		in.listeners.push_back(std::move(l));
	}
	auto stop = counters_of(t, netns);
	if (!stop)
		return stop.error();
	for (std::uint32_t ns : netns) {
		NetnsObservation &n = in.netns[ns];
		n.netns = ns;
		auto entered = t.in_netns_of(ns, [&]() { read_netns_settings(n); });
		if (!entered)
			return entered.error();
		const auto a = start.find(ns);
		const auto b = stop->find(ns);
		if (a != start.end() && b != stop->end())
			n.delta = rise(b->second, a->second);
	}
	if (o.doctor.emulate_no_tcp_diag) {
		in.tcp_diag = false;
		in.tcp_diag_detail = "emulated: --emulate-no-tcp-diag";
	} else if (auto d = read_inet_diag(ListenerFilter{}); d) {
		in.tcp_diag = d->status == DiagStatus::ok;
		in.tcp_diag_detail = d->status == DiagStatus::ok ? "tcp_diag answered" : d->detail;
	}
	return in;
}

// Long: the window's sequence (attach, a baseline, one interval per second, the last part-second); its input is assemble_input's.
int doctor(const Options &o, std::ostream &out, std::ostream &err, const std::function<void()> &window_started,
	   bool &failed)
{
	failed = true;
	if (int rc = preflight(o, err))
		return rc;
	auto tracer = start_tracer(o, nullptr);
	if (!tracer)
		return fail(err, "doctor", tracer.error());
	install_stop_handlers();
	Tracer &t = **tracer;
	const HistKinds hists{};  // no histogram: the wait is the head-of-line wait, in every tier
	auto shown = [&](const ListenerStat &s) { return wanted(o, s.id, s.owner_pid); };

	if (auto r = t.sample(); !r)
		return fail(err, "doctor", r.error());
	if (auto r = t.read_listeners(hists); !r)
		return fail(err, "doctor", r.error());
	std::set<std::uint32_t> netns;
	std::size_t watched = 0;
	for (const ListenerStat &s : t.listeners())
		if (shown(s))
			netns.insert(s.id.netns), watched++;
	auto start = counters_of(t, netns);
	if (!start)
		return fail(err, "doctor", start.error());
	IntervalBases prev;
	interval_bases(t.listeners(), prev);
	t.next_interval();
	// Always said (scripts read stdout): when the window starts, and
	// how to end it early.
	err << "listenq doctor: watching " << watched << (watched == 1 ? " listener" : " listeners") << " for " << o.tracing.duration
	    << " s (Ctrl-C ends it early)\n";
	err.flush();
	if (window_started)
		window_started();

	Window w;
	const std::uint64_t t0 = monotonic_ns();
	const std::uint64_t end = t0 + static_cast<std::uint64_t>(o.tracing.duration * 1e9);
	std::uint64_t last = t0;
	Result<void> interval_error;
	auto interval = [&](std::uint64_t now) -> bool {
		if (auto r = t.sample(); !r) {
			interval_error = r.error();
			return false;
		}
		if (auto r = t.read_listeners(hists); !r) {
			interval_error = r.error();
			return false;
		}
		const auto &stats = t.listeners();
		for (const WatchRow &row : compute_interval(prev, stats, static_cast<double>(now - last) / 1e9, shown))
			w.add(row);
		t.next_interval();
		interval_bases(stats, prev);
		last = now;
		return true;
	};
	auto r = run_loop(t, o.tracing.sample_ms, [&](std::uint64_t now) {
		if (now >= end)
			return false;
		if (now - last >= 1000000000ull && !interval(now))
			return false;
		return true;
	});
	if (!r)
		return fail(err, "doctor", r.error());
	if (!interval_error)
		return fail(err, "doctor", interval_error.error());
	const std::uint64_t now = monotonic_ns();
	if (now - last >= 100000000ull || w.obs.empty())
		if (!interval(now))
			return fail(err, "doctor", interval_error.error());

	auto in = assemble_input(o, t, w, static_cast<double>(now - t0) / 1e9, netns, *start);
	if (!in)
		return fail(err, "doctor", in.error());

	const std::vector<Finding> findings = diagnose(*in);
	if (o.tracing.json)
		out << doctor_json(*in, findings).dump(2) << '\n';
	else
		render_doctor_text(out, *in, findings);
	out.flush();
	failed = false;
	return needs_action(findings) ? kExitFailure : kExitOk;
}

}  // namespace

int run_doctor(const Options &o, std::ostream &out, std::ostream &err, const std::function<void()> &window_started,
	       bool *failed)
{
	bool f = false;
	const int rc = doctor(o, out, err, window_started, f);
	if (failed)
		*failed = f;
	return rc;
}

}  // namespace listenq
