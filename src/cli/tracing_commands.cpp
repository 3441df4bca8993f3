// listenq watch and listenq trace: the tracer's poll/sample loop.
#include <signal.h>
#include <time.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <tuple>

#include "plan/features.h"
#include "tracing/tracer.h"
#include "cli/commands.h"
#include "cli/tracing_loop.h"
#include "render/hist_render.h"
#include "render/table.h"
#include "render/trace_render.h"
#include "util/clock.h"

namespace listenq {

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

}  // namespace

bool stop_requested() { return g_stop; }

// SIGINT/SIGTERM/SIGHUP end the loop; the Tracer's destructor detaches.
// SA_RESTART: a write to a full stdout pipe must not fail with EINTR (the
// stream would drop the rest of its buffer: seen in the guests, where the
// reader is slow). epoll_wait is never restarted, so the loop still wakes.
void install_stop_handlers()
{
	g_stop = false;
	struct sigaction sa {};
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	for (int sig : {SIGINT, SIGTERM, SIGHUP})
		sigaction(sig, &sa, nullptr);
}

bool wanted(const Options &o, const Listener &id, std::uint32_t pid)
{
	return o.filter.to_filter().matches(id) && (!o.tracing.pid || *o.tracing.pid == pid) &&
	       (!o.tracing.netns || *o.tracing.netns == id.netns);
}

// trace prints every event: 4 MiB holds a churn of 100k listen/close in
// 0.8 s. The other commands show no events (they only drain them), and
// the ring is mapped into listenq twice: 8 MiB of RSS for nothing.
std::uint32_t ringbuf_kb_for(const Options &o)
{
	if (o.tracing.ringbuf_kb)
		return o.tracing.ringbuf_kb;
	return o.command == "trace" ? 4096 : 256;
}

Result<std::unique_ptr<Tracer>> start_tracer(const Options &o, Tracer::EventFn on_event)
{
	// Every program kind is probed; a function hook's attach is tried by
	// attaching it (a failure re-plans), not probed apart.
	const KernelFeatures features = probe_kernel_features(o.common.probe_scope(/*function_attach=*/false));
	TracerOptions t;
	t.btf_path = o.common.btf;
	t.attach = o.common.attach;
	t.max_listeners = o.tracing.max_listeners;
	t.ringbuf_bytes = ringbuf_kb_for(o) * 1024u;
	t.refuse = o.common.refuse;
	t.syscalls = o.common.syscalls;
	return Tracer::start(t, features, std::move(on_event));
}

TraceHeader header_of(const Tracer &t, const Options &o)
{
	return TraceHeader::of(t.plan(), t.attached(), o.tracing.sample_ms);
}

// Polls events and samples every sample_ms until stop() or a signal.
Result<void> run_loop(Tracer &t, std::uint32_t sample_ms, const std::function<bool(std::uint64_t now)> &tick,
		      int wake_fd)
{
	std::uint64_t next_sample = monotonic_ns();
	while (!g_stop) {
		std::uint64_t now = monotonic_ns();
		if (now >= next_sample) {
			if (auto r = t.sample(); !r)
				return r.error();
			next_sample = now + sample_ms * 1000000ULL;
		}
		if (!tick(now))
			break;
		const std::uint64_t wait = next_sample > now ? (next_sample - now) / 1000000ULL : 0;
		if (auto r = t.poll(static_cast<int>(std::min<std::uint64_t>(wait, 50)), wake_fd); !r)
			return r.error();
	}
	return t.poll(0).ok() ? Result<void>{} : Result<void>{Error{EIO, "final ring buffer poll failed"}};
}

int run_trace(const Options &o, std::ostream &out, std::ostream &err)
{
	if (int rc = preflight(o, err))
		return rc;
	std::uint64_t t0 = 0, count = 0;
	auto tracer = start_tracer(o, [&](const TraceEvent &e) {
		if (!wanted(o, e.where, e.pid))
			return;
		count++;
		if (o.tracing.json)
			out << trace_event_json(e).dump() << '\n';
		else
			render_trace_event_text(out, e, t0);
	});
	if (!tracer)
		return fail(err, "trace", tracer.error());
	install_stop_handlers();
	Tracer &t = **tracer;
	TraceHeader h = header_of(t, o);
	h.show_attributed = false;  // events carry no attributed counts
	if (o.tracing.json)
		out << trace_header_json(h).dump() << '\n';
	else
		render_trace_header_text(out, h);
	out.flush();
	t0 = monotonic_ns();
	const std::uint64_t end = o.tracing.duration > 0 ? t0 + static_cast<std::uint64_t>(o.tracing.duration * 1e9) : 0;
	// One flush per loop turn (<= 50 ms), not per event: a pipe write per
	// event cannot keep up with a listener-churn storm.
	auto r = run_loop(t, o.tracing.sample_ms, [&](std::uint64_t now) {
		out.flush();
		return !end || now < end;
	});
	t.drain_events();
	out.flush();
	if (!r)
		return fail(err, "trace", r.error());
	TracerStats s = t.stats();
	err << "listenq trace: " << count_of(count, "event") << ", " << s.events_lost << " lost, "
	    << count_of(s.untracked, "listener") << " untracked (map full)";
	if (s.netns_unseeded)
		err << ", " << s.netns_unseeded << " netns not entered";
	if (s.stale_removed)
		err << ", " << s.stale_removed << " stale entries removed";
	if (s.closed_lost)
		err << ", " << s.closed_lost << " closed listeners' last counts lost";
	if (s.hook_runs_missed)
		err << ", " << s.hook_runs_missed << " hook runs skipped by the kernel";
	if (s.events_late)
		err << ", " << s.events_late << " out of time order (perf buffer: later than its 50 ms window)";
	err << '\n';
	return kExitOk;
}

// Long: one frame: read, render, wait; the signal and --count exits sit between.
Result<void> watch_loop(const Options &o, Tracer &t, std::ostream &out,
			const std::function<void(std::uint64_t seq)> &after_frame)
{
	const bool tty = !o.tracing.json && ::isatty(STDOUT_FILENO) && o.command == "watch";
	const std::uint64_t period = static_cast<std::uint64_t>(o.tracing.interval * 1e9);
	std::uint64_t last = monotonic_ns(), seq = 0;
	// The previous frame: a few counters per listener, not its state.
	IntervalBases prev;
	// Percentiles of the accept wait need its histogram, where measured.
	const HistKinds hists{false, t.plan().fields.measured(TraceField::accept_wait)};
	Result<void> frame_error;
	auto r = run_loop(t, o.tracing.sample_ms, [&](std::uint64_t now) {
		if (now - last < period)
			return true;
		if (auto s = t.sample(); !s) {  // the frame shows the state now
			frame_error = s.error();
			return false;
		}
		if (auto s = t.read_listeners(hists); !s) {
			frame_error = s.error();
			return false;
		}
		const std::deque<ListenerStat> &stats = t.listeners();
		WatchFrame f;
		f.header = header_of(t, o);
		f.interval_s = static_cast<double>(now - last) / 1e9;
		f.seq = ++seq;
		TracerStats ts = t.stats();
		f.events_lost = ts.events_lost;
		f.untracked = ts.untracked;
		f.netns_unseeded = ts.netns_unseeded;
		f.stale_removed = ts.stale_removed;
		f.closed_lost = ts.closed_lost;
		f.hook_runs_missed = ts.hook_runs_missed;
		f.sample_passes = ts.last_sample_passes;
		f.sample_us = ts.last_sample_us;
		f.unattributed = t.unattributed();
		f.rows = compute_interval(prev, stats, f.interval_s,
					  [&](const ListenerStat &s) { return wanted(o, s.id, s.owner_pid); });
		f.legend = tty || f.seq == 1;
		if (tty)
			out << "\x1b[H\x1b[2J";
		if (o.tracing.json)
			write_watch_frame_json(out, f), out << '\n';
		else
			render_watch_text(out, f);
		out.flush();
		t.next_interval();
		f.rows = {};
		interval_bases(stats, prev);
		last = now;
		// A burst (listeners by the thousand, their events, a frame's rows)
		// leaves freed memory in malloc's arenas; give it back, so that RSS
		// follows what is live rather than the biggest frame so far.
		::malloc_trim(0);
		if (after_frame)
			after_frame(seq);
		return !o.tracing.count || seq < o.tracing.count;
	});
	if (!frame_error)
		return frame_error.error();
	return r;
}

int run_watch(const Options &o, std::ostream &out, std::ostream &err)
{
	if (int rc = preflight(o, err))
		return rc;
	auto tracer = start_tracer(o, nullptr);
	if (!tracer)
		return fail(err, "watch", tracer.error());
	install_stop_handlers();
	if (auto r = watch_loop(o, **tracer, out); !r)
		return fail(err, "watch", r.error());
	return kExitOk;
}

int run_hist(const Options &o, std::ostream &out, std::ostream &err)
{
	if (int rc = preflight(o, err))
		return rc;
	auto tracer = start_tracer(o, nullptr);
	if (!tracer)
		return fail(err, "hist", tracer.error());
	install_stop_handlers();
	Tracer &t = **tracer;
	const std::uint64_t end = monotonic_ns() + static_cast<std::uint64_t>(o.tracing.duration * 1e9);
	if (auto r = run_loop(t, o.tracing.sample_ms, [&](std::uint64_t now) { return now < end; }); !r)
		return fail(err, "hist", r.error());
	if (auto r = t.read_listeners(HistKinds{true, true}); !r)
		return fail(err, "hist", r.error());
	std::vector<ListenerStat> shown;
	for (const ListenerStat &s : t.listeners())
		if (wanted(o, s.id, s.owner_pid))
			shown.push_back(s);
	std::sort(shown.begin(), shown.end(), [](const ListenerStat &a, const ListenerStat &b) {
		return std::tie(a.id.port, a.id.family, a.key) < std::tie(b.id.port, b.id.family, b.key);
	});
	if (o.tracing.json)
		out << hist_json(header_of(t, o), shown).dump(2) << '\n';
	else
		render_hist_text(out, header_of(t, o), shown);
	return kExitOk;
}

}  // namespace listenq
