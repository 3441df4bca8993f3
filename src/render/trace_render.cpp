#include "render/trace_render.h"

#include <algorithm>
#include <cstdio>

#include "render/cgroup_render.h"
#include "render/table.h"

namespace listenq {

namespace {

std::string endpoint(const Listener &l) { return format_endpoint(l, std::to_string(l.port)); }

std::string join(const std::vector<std::string> &v, const char *sep)
{
	std::string out;
	for (const auto &s : v)
		out += (out.empty() ? "" : sep) + s;
	return out;
}

std::string fixed(double v, int prec)
{
	char buf[32];
	std::snprintf(buf, sizeof(buf), "%.*f", prec, v);
	return buf;
}

// A wait for a narrow column: "0", "850us", "2250ms", "12.5s".
std::string short_duration(std::uint32_t us)
{
	if (us == 0)
		return "0";
	if (us < 1000)
		return std::to_string(us) + "us";
	if (us < 10000000)
		return std::to_string(us / 1000) + "ms";
	return fixed(us / 1e6, 1) + "s";
}

std::string owner(std::uint32_t pid, const std::string &comm)
{
	return pid ? std::to_string(pid) + "/" + comm : "-";
}

nlohmann::ordered_json opt_json(const std::optional<std::int32_t> &v)
{
	return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json opt_json(const std::optional<double> &v)
{
	return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

void render_legend(std::ostream &os, const TraceHeader &h)
{
	const FieldSources &f = h.fields;
	print_folded(os, "syscall hooks:",
		     h.syscalls ? "on (listen()'s requested backlog, the somaxconn clamp; every syscall pays for them)"
				: "off (--syscalls adds listen()'s requested backlog and the somaxconn clamp)");
	if (auto v = f.names(Provenance::sampled); !v.empty())
		print_folded(os, "sampled every " + std::to_string(h.sample_ms) + " ms:", join(v, ", "));
	if (auto v = f.names(Provenance::not_measured); !v.empty())
		print_folded(os, "not measured in this tier:", join(v, ", "));
	if (auto v = f.names(Provenance::netns_counters); !v.empty() && h.show_attributed)
		print_folded(os, "from netns counters:", join(v, ", "));
	if (!h.not_used.empty())
		print_folded(os, "hooks not in use:", join(h.not_used, "; "));
	for (const std::string &line : refused_lines(h.refused))
		print_folded(os, "refused:", line);
}

namespace {

nlohmann::ordered_json names_json(const FieldSources &f, Provenance s) { return f.names(s); }

}  // namespace

void render_trace_header_text(std::ostream &os, const TraceHeader &h)
{
	print_folded(os, "listenq trace: tier " + h.tier + ":", join(h.attached, ", "));
	render_legend(os, h);
	char line[160];
	std::snprintf(line, sizeof(line), "%-9s %-16s %-10s %-21s %-8s %-9s %s\n", "TIME(s)", "PID/COMM", "NETNS",
		      "ADDR:PORT", "EVENT", "Q/LIMIT", "DETAIL");
	os << line;
}

void render_trace_event_text(std::ostream &os, const TraceEvent &e, std::uint64_t t0_ns)
{
	const double t = e.ts_ns >= t0_ns ? static_cast<double>(e.ts_ns - t0_ns) / 1e9 : 0.0;
	std::string detail;
	const std::string req = e.requested ? std::to_string(*e.requested) : "?";
	switch (e.type) {
	case EventType::listen: detail = "backlog " + std::to_string(e.effective); break;
	case EventType::relisten:
		detail = "backlog " + std::to_string(e.prev_effective) + " -> " + std::to_string(e.effective) +
			 " (requested " + req + ")";
		break;
	case EventType::clamp:
		detail = "requested " + req + " clamped to somaxconn " + std::to_string(e.effective);
		break;
	case EventType::close:
		detail = "accepted " + std::to_string(e.accepted) + ", overflows " + std::to_string(e.overflows);
		break;
	case EventType::overflow:
		detail = e.overflow_path.empty() ? "first listen drop this interval (path not measured in this tier)"
						 : "first overflow this interval (" + e.overflow_path + " path)";
		break;
	case EventType::unknown: break;
	}
	std::string who = owner(e.pid, e.comm);
	if (who.size() > 16)
		who.resize(16);
	char line[512];
	std::snprintf(line, sizeof(line), "%-9s %-16s %-10u %-21s %-8s %-9s %s\n", fixed(t, 3).c_str(), who.c_str(),
		      e.netns, endpoint(e.where).c_str(), event_type_name(e.type).c_str(),
		      (std::to_string(e.where.accept_queue) + "/" + std::to_string(e.effective)).c_str(), detail.c_str());
	os << line;
}

TraceHeader TraceHeader::of(const Plan &p, std::vector<std::string> attached, std::uint32_t sample_ms)
{
	TraceHeader h;
	h.tier = p.tiers();
	h.attached = std::move(attached);
	h.fields = p.fields;
	h.sample_ms = sample_ms;
	h.not_used = p.hooks_not_used();
	// Said on its own line (the mode), not as a hook missing.
	std::erase_if(h.not_used, [](const std::string &s) { return s.starts_with("syscall hooks:"); });
	h.syscalls = p.syscalls;
	h.refused = p.refused;
	h.perf_buffer = p.perf_buffer;
	h.sampler_fallback = p.fact(FactId::queues).way != 0;
	return h;
}

std::vector<std::string> refused_lines(const std::vector<RefusedProgram> &refused)
{
	// Function-hook programs: one line per reason, naming the kinds and the
	// facts that take the next tier (the JSON names every program).
	struct Group {
		std::string reason;
		std::vector<std::string> kinds, facts;
	};
	std::vector<Group> hooks;
	std::vector<std::string> out;
	auto add = [](std::vector<std::string> &v, const std::string &x) {
		if (std::find(v.begin(), v.end(), x) == v.end())
			v.push_back(x);
	};
	for (const RefusedProgram &r : refused) {
		if (r.function_hook()) {
			auto it = std::find_if(hooks.begin(), hooks.end(), [&](const Group &g) { return g.reason == r.reason; });
			if (it == hooks.end())
				it = hooks.insert(hooks.end(), Group{r.reason, {}, {}});
			add(it->kinds, r.kind);
			add(it->facts, r.fact);
			continue;
		}
		// Programs of one way (sys_enter and sys_exit) share a line.
		const std::string tail = " (" + r.kind + "; " + r.reason + "): " + r.fallback + " instead" +
					 (r.cost.empty() ? "" : "; cost: " + r.cost);
		auto same = std::find_if(out.begin(), out.end(), [&](const std::string &l) {
			return l.size() > tail.size() && l.compare(l.size() - tail.size(), tail.size(), tail) == 0;
		});
		if (same != out.end())
			same->insert(same->size() - tail.size(), ", " + r.program);
		else
			out.push_back(r.program + tail);
	}
	for (auto g = hooks.rbegin(); g != hooks.rend(); ++g) {
		const bool one = g->facts.size() == 1;
		out.insert(out.begin(), join(g->kinds, ", ") + " (" + g->reason + "): " + (one ? "fact " : "facts ") +
						join(g->facts, ", ") + (one ? " takes" : " take") + " the next tier");
	}
	return out;
}

nlohmann::ordered_json refused_json(const std::vector<RefusedProgram> &refused)
{
	nlohmann::ordered_json out = nlohmann::ordered_json::array();
	for (const RefusedProgram &r : refused)
		out.push_back({{"program", r.program},
			       {"kind", r.kind},
			       {"fact", r.fact},
			       {"reason", r.reason},
			       {"detail", r.detail},
			       {"errno", r.err},
			       {"by", r.by_user ? "LISTENQ_REFUSE" : "kernel"},
			       {"fallback", r.fallback},
			       {"cost", r.cost}});
	return out;
}

nlohmann::ordered_json trace_header_json(const TraceHeader &h)
{
	return {{"schema", "listenq.trace/1"},
		{"tier", h.tier},
		{"attached", h.attached},
		{"sampled", names_json(h.fields, Provenance::sampled)},
		{"unmeasured", names_json(h.fields, Provenance::not_measured)},
		{"attributed", h.show_attributed ? names_json(h.fields, Provenance::netns_counters)
						 : nlohmann::ordered_json::array()},
		{"hooks_not_used", h.not_used},
		{"refused", refused_json(h.refused)},
		{"events_via", h.perf_buffer ? "perf_buffer" : "ringbuf"},
		{"syscalls", h.syscalls},
		{"sample_ms", h.sample_ms}};
}

nlohmann::ordered_json trace_event_json(const TraceEvent &e)
{
	return {{"ts_ns", e.ts_ns},
		{"event", event_type_name(e.type)},
		{"pid", e.pid},
		{"comm", e.comm},
		{"netns", e.netns},
		{"family", e.where.family == 10 ? "ipv6" : "ipv4"},
		{"local_address", format_address(e.where.family, e.where.addr)},
		{"port", e.where.port},
		{"cookie", e.cookie},
		{"accept_queue", e.where.accept_queue},
		{"backlog", e.effective},
		{"requested_backlog", opt_json(e.requested)},
		{"prev_backlog", e.type == EventType::relisten ? nlohmann::ordered_json(e.prev_effective) : nullptr},
		{"overflow_path", e.overflow_path.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.overflow_path)},
		{"accepted", e.type == EventType::close ? nlohmann::ordered_json(e.accepted) : nullptr},
		{"overflows", e.type == EventType::close ? nlohmann::ordered_json(e.overflows) : nullptr}};
}

// Long: watch's header and columns, in the order they print.
void render_watch_text(std::ostream &os, const WatchFrame &f)
{
	std::string status = "tier " + f.header.tier + ", " + fixed(f.interval_s, 1) + "s #" + std::to_string(f.seq) + ", " +
			     count_of(f.rows.size(), "listener") + ", lost events " + std::to_string(f.events_lost) +
			     ", untracked " + std::to_string(f.untracked);
	if (f.netns_unseeded)
		status += ", " + std::to_string(f.netns_unseeded) + " netns not entered (older listeners there missed)";
	if (f.stale_removed)
		status += ", " + std::to_string(f.stale_removed) + " stale entries removed";
	if (f.closed_lost)
		status += ", " + std::to_string(f.closed_lost) + " closed listeners' last counts lost";
	if (f.hook_runs_missed)
		status += ", " + std::to_string(f.hook_runs_missed) + " hook runs skipped by the kernel (counts short)";
	if (f.header.sampler_fallback)
		status += ", last sample " + count_of(f.sample_passes, "pass") + " " + fixed(f.sample_us / 1000.0, 1) + " ms";
	print_folded(os, "listenq watch:", status);
	if (f.legend)
		render_legend(os, f.header);
	for (const Unattributed &u : f.unattributed) {
		const SynCounts &c = u.counts;
		print_folded(os,
			     "netns " + std::to_string(u.netns) + " not attributed" +
				     (u.listeners_under_pressure
					      ? " (" + std::to_string(u.listeners_under_pressure) + " listeners under SYN pressure):"
					      : " (yet):"),
			     "overflow_syn " + std::to_string(c.overflow_syn) + ", synq_full_drops " +
				     std::to_string(c.synq_full_drops) + ", synq_full_cookies " +
				     std::to_string(c.synq_full_cookies) + ", syncookies_sent " +
				     std::to_string(c.syncookies_sent));
	}
	const bool ack_measured = f.header.fields.measured(TraceField::overflow_ack);
	const bool accepts_measured = f.header.fields.measured(TraceField::accepted);
	const bool hol_measured = f.header.fields.measured(TraceField::hol_wait);
	using A = TextTable::Align;
	// Listeners of several netns (containers): same address and port can
	// repeat, so the netns inode leads each row.
	const bool multi_netns = std::any_of(f.rows.begin(), f.rows.end(),
					     [&](const WatchRow &r) { return r.now->id.netns != f.rows[0].now->id.netns; });
	std::vector<TextTable::Column> cols = {{"ADDR:PORT", A::left}, {"PID/COMM", A::left}, {"RECVQ", A::right},
					       {"PEAK", A::right},      {"SENDQ", A::right},    {"SYNQ", A::right},
					       {"PEAK", A::right},      {"OVF-S", A::right},    {"OVF-A", A::right},
					       {"ACC/s", A::right},     {"HOL", A::right},      {"WAIT", A::right}};
	// Rows of several containers (pods, units): where each owner runs,
	// after its PID/COMM.
	const std::string first_cgroup = f.rows.empty() ? "" : cgroup_cell(f.rows[0].now->cgroup);
	const bool multi_cgroup = std::any_of(f.rows.begin(), f.rows.end(),
					      [&](const WatchRow &r) { return cgroup_cell(r.now->cgroup) != first_cgroup; });
	if (multi_cgroup)
		cols.insert(cols.begin() + 2, {"CONTAINER", A::left});
	if (multi_netns)
		cols.insert(cols.begin(), {"NETNS", A::left});
	TextTable t(std::move(cols));
	// Cells are made per row when printed, never held for the whole frame.
	t.print(os, f.rows.size(), [&](std::size_t i) {
		const WatchRow &r = f.rows[i];
		const ListenerStat &s = *r.now;
		std::string who = owner(s.owner_pid, s.owner_comm);
		if (who.size() > 16)
			who.resize(16);
		std::vector<std::string> cells = {
			s.closed ? endpoint(s.id) + " closed" : endpoint(s.id), who, std::to_string(s.accept_queue), std::to_string(s.accept_queue_peak),
			std::to_string(s.backlog), std::to_string(s.syn_queue), std::to_string(s.syn_queue_peak),
			std::to_string(r.overflow_syn), ack_measured ? std::to_string(r.overflow_ack) : "-",
			accepts_measured ? fixed(r.accepts_per_s, 1) : "-",
			hol_measured ? short_duration(s.hol_wait_peak_us) : "-",
			r.wait_p50_us && r.wait_p99_us ? fixed(*r.wait_p50_us, 0) + "/" + fixed(*r.wait_p99_us, 0) : "-"};
		if (multi_cgroup)
			cells.insert(cells.begin() + 2, cgroup_cell(s.cgroup));
		if (multi_netns)
			cells.insert(cells.begin(), std::to_string(s.id.netns));
		return cells;
	});
}

nlohmann::ordered_json listener_stat_identity_json(const ListenerStat &s)
{
	return {{"family", s.id.family == 10 ? "ipv6" : "ipv4"},
		{"local_address", format_address(s.id.family, s.id.addr)},
		{"port", s.id.port},
		{"netns", s.id.netns},
		{"cookie", s.id.cookie},
		{"pid", s.owner_pid},
		{"comm", s.owner_comm},
		{"cgroup", cgroup_json(s.cgroup)}};
}

namespace {

// A count this tier cannot measure is null, never a made-up 0.
nlohmann::ordered_json watch_listener_json(const WatchFrame &f, const WatchRow &r)
{
	const FieldSources &fs = f.header.fields;
	auto count = [&](TraceField field, std::uint64_t v) {
		return fs.measured(field) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
	};
	const ListenerStat &s = *r.now;
	nlohmann::ordered_json x = listener_stat_identity_json(s);
	x.update(nlohmann::ordered_json{
		{"seeded", s.seeded},
		{"closed", s.closed},
		      {"requested_backlog", opt_json(s.requested_backlog)},
		      {"backlog", s.backlog},
		      {"accept_queue", s.accept_queue},
		      {"accept_queue_peak", s.accept_queue_peak},
		      {"syn_queue", s.syn_queue},
		      {"syn_queue_peak", s.syn_queue_peak},
		      {"drops", s.drops},
		      {"hol_wait_us", count(TraceField::hol_wait, s.hol_wait_us)},
		      {"interval",
		       {{"accepts", count(TraceField::accepted, r.accepts)},
			{"accepts_per_s", fs.measured(TraceField::accepted) ? nlohmann::ordered_json(r.accepts_per_s) : nullptr},
			{"overflow_syn", r.overflow_syn},
			{"overflow_ack", count(TraceField::overflow_ack, r.overflow_ack)},
			{"synack_retrans", count(TraceField::synack_retrans, r.synack_retrans)},
			{"synq_full_drops", count(TraceField::synq_full_drops, r.synq_full_drops)},
			{"synq_full_cookies", count(TraceField::synq_full_cookies, r.synq_full_cookies)},
			{"syncookies_sent", count(TraceField::syncookies_sent, r.syncookies_sent)},
			{"hol_wait_peak_us", count(TraceField::hol_wait, s.hol_wait_peak_us)},
			{"wait_p50_us", opt_json(r.wait_p50_us)},
			{"wait_p99_us", opt_json(r.wait_p99_us)}}},
		      {"total",
		       {{"accepted", count(TraceField::accepted, s.accepted)},
			{"enqueued", count(TraceField::enqueued, s.enqueued)},
			{"overflow_syn", s.overflow_syn},
			{"overflow_ack", count(TraceField::overflow_ack, s.overflow_ack)},
			{"synack_retrans", count(TraceField::synack_retrans, s.synack_retrans)},
			{"synq_full_drops", count(TraceField::synq_full_drops, s.synq_full_drops)},
			{"synq_full_cookies", count(TraceField::synq_full_cookies, s.synq_full_cookies)},
			{"syncookies_sent", count(TraceField::syncookies_sent, s.syncookies_sent)}}}});
	return x;
}

nlohmann::ordered_json unattributed_json(const std::vector<Unattributed> &us)
{
	nlohmann::ordered_json out = nlohmann::ordered_json::array();
	for (const Unattributed &u : us)
		out.push_back({{"netns", u.netns},
			       {"listeners_under_pressure", u.listeners_under_pressure},
			       {"overflow_syn", u.counts.overflow_syn},
			       {"synq_full_drops", u.counts.synq_full_drops},
			       {"synq_full_cookies", u.counts.synq_full_cookies},
			       {"syncookies_sent", u.counts.syncookies_sent}});
	return out;
}

nlohmann::ordered_json watch_frame_head(const WatchFrame &f, nlohmann::ordered_json ls)
{
	return {{"schema", "listenq.watch/1"},
		{"tier", f.header.tier},
		{"sampled", names_json(f.header.fields, Provenance::sampled)},
		{"unmeasured", names_json(f.header.fields, Provenance::not_measured)},
		{"sample_ms", f.header.sample_ms},
		{"sample_passes", f.sample_passes},
		{"sample_us", f.sample_us},
		{"interval_s", f.interval_s},
		{"seq", f.seq},
		{"events_lost", f.events_lost},
		{"untracked", f.untracked},
		{"netns_unseeded", f.netns_unseeded},
		{"stale_removed", f.stale_removed},
		{"closed_lost", f.closed_lost},
		{"hook_runs_missed", f.hook_runs_missed},
		{"attributed", names_json(f.header.fields, Provenance::netns_counters)},
		{"hooks_not_used", f.header.not_used},
		{"refused", refused_json(f.header.refused)},
		{"events_via", f.header.perf_buffer ? "perf_buffer" : "ringbuf"},
		{"syscalls", f.header.syscalls},
		{"unattributed", unattributed_json(f.unattributed)},
		{"listeners", std::move(ls)}};
}


}  // namespace

nlohmann::ordered_json watch_frame_json(const WatchFrame &f)
{
	nlohmann::ordered_json ls = nlohmann::ordered_json::array();
	for (const WatchRow &r : f.rows)
		ls.push_back(watch_listener_json(f, r));
	return watch_frame_head(f, std::move(ls));
}

void write_watch_frame_json(std::ostream &os, const WatchFrame &f)
{
	// Same bytes as watch_frame_json(f).dump(), one listener in memory at a
	// time: a 50k-listener frame as one JSON tree is hundreds of MiB.
	std::string head = watch_frame_head(f, nlohmann::ordered_json::array()).dump();
	head.resize(head.size() - 2);  // "[]}" -> "["
	os << head;
	bool first = true;
	for (const WatchRow &r : f.rows) {
		os << (first ? "" : ",") << watch_listener_json(f, r).dump();
		first = false;
	}
	os << "]}";
}

}  // namespace listenq
