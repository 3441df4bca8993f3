#include "doctor/findings.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <tuple>

namespace listenq {

namespace {

using L = ListenerObservation;

// The numbers the findings turn on, each named once with its reason. They
// are judgements, not kernel facts: a change here changes what doctor
// says, and tests/unit/doctor_test.cpp pins each one at its edge.
struct Thresholds {
	// An acceptor runs at its capacity when connections waited for it in
	// at least busy_num/busy_den of the window's one-second intervals ...
	std::uint32_t busy_num = 3, busy_den = 4;
	// ... and it is slow when it accepted less than this share of the
	// attempts (arrivals count retries, so a little under 1).
	double slow_accept_share = 0.9;
	// A SYN flood: at least flood_min cookies sent with fewer than one in
	// cookies_back_one_in coming back, or at least flood_min SYN-ACK
	// retransmits with fewer than one handshake (or cookie) in
	// completed_one_in of them. Below flood_min, too few to tell.
	std::uint64_t flood_min = 8, cookies_back_one_in = 5, completed_one_in = 4;
	// A reuseport member with room to spare: its peak at most
	// 1/idle_peak_den of its backlog.
	std::uint32_t idle_peak_den = 2;
	// Little's law needs a rate: below this many accepts in the busiest
	// second, a sizing from it is noise.
	double demand_min_accepts_per_s = 1;
	// A suggested size is this many times the need, rounded up to a power
	// of two (bursts come bigger than the one seen).
	double headroom = 2;
};
constexpr Thresholds kT{};

std::string num(double v)
{
	char b[32];
	if (v == std::floor(v) && std::fabs(v) < 1e15)
		std::snprintf(b, sizeof(b), "%.0f", v);
	else
		std::snprintf(b, sizeof(b), "%.1f", v);
	return b;
}

std::string n(std::uint64_t v) { return std::to_string(v); }

// 80 us, 250 ms, 2.4 s.
std::string duration_us(double us)
{
	char b[32];
	if (us < 1000)
		std::snprintf(b, sizeof(b), "%.0f us", us);
	else if (us < 1e6)
		std::snprintf(b, sizeof(b), "%.0f ms", us / 1e3);
	else
		std::snprintf(b, sizeof(b), "%.1f s", us / 1e6);
	return b;
}

std::uint64_t pow2_at_least(double v)
{
	std::uint64_t p = 1;
	while (static_cast<double>(p) < v && p < (1ull << 31))
		p <<= 1;
	return p;
}

std::uint64_t overflows(const L &l) { return l.overflow_syn + l.overflow_ack; }
bool full(const L &l) { return l.accept_queue_peak > l.backlog; }
double pressure(const L &l) { return static_cast<double>(l.accept_queue_peak) / (l.backlog + 1.0); }
double per_s(double count, double seconds) { return seconds > 0 ? count / seconds : 0; }

std::string who(const L &l)
{
	return l.pid ? "pid " + n(l.pid) + " (" + l.comm + ")" : std::string("its owner (unknown)");
}

const NetnsObservation *netns_of(const DoctorInput &in, std::uint32_t netns)
{
	auto it = in.netns.find(netns);
	return it == in.netns.end() ? nullptr : &it->second;
}

// "net.core.somaxconn is 4096" or "" where unknown.
std::optional<std::uint32_t> somaxconn_of(const DoctorInput &in, const L &l)
{
	const NetnsObservation *ns = netns_of(in, l.id.netns);
	return ns ? ns->somaxconn : std::nullopt;
}

// "Raise the backlog to at least N (the application's setting), and
// somaxconn where it is below N."
std::string raise_backlog(const DoctorInput &in, const L &l, std::uint64_t want)
{
	std::string s = "Raise the backlog to at least " + n(want);
	if (std::string app = backlog_setting_for(l.comm, l.cmdline); !app.empty())
		s += " (" + app + ")";
	else
		s += " (the backlog argument of the application's listen())";
	if (auto smc = somaxconn_of(in, l); smc && *smc < want)
		s += ", and net.core.somaxconn (" + n(*smc) + " in netns " + n(l.id.netns) +
		     ") to at least that: the kernel clamps the backlog to it";
	return s + ". It takes effect at the next listen(): restart or reload the server.";
}

enum class Acceptor { keeps_up, stopped, slow };

// What the accept rate against the arrival rate says. Arrivals count
// attempts (enqueued plus refused: a refused client retries at 1 s, 3 s
// ...), so a burst inflates them; a deficit counts as slow only when the
// acceptor also had work waiting in 3 of 4 intervals (it ran at its
// capacity). An acceptor with capacity to spare empties the queue between
// bursts and stalls: its backlog is what is too small.
Acceptor acceptor_of(const L &l, double seconds)
{
	if (l.accepted == 0 && (overflows(l) || full(l) || l.accept_queue))
		return Acceptor::stopped;
	if (!l.seconds || kT.busy_den * l.seconds_busy < kT.busy_num * l.seconds)
		return Acceptor::keeps_up;
	if (!l.enqueued)
		return Acceptor::slow;
	const double accepts = per_s(static_cast<double>(l.accepted), seconds);
	return accepts < kT.slow_accept_share * per_s(static_cast<double>(*l.enqueued + overflows(l)), seconds)
		       ? Acceptor::slow
		       : Acceptor::keeps_up;
}

// accept_queue_overflow's cause and fix, by the acceptor's class.
void accept_queue_cause(Finding &f, const DoctorInput &in, const L &l, Acceptor who_accepts, double accepts,
			std::optional<double> arrivals)
{
	const double T = in.seconds;
	const std::uint64_t ovf = overflows(l);
	switch (who_accepts) {
	case Acceptor::stopped: {
		const bool stopped = l.state.rfind("T", 0) == 0 || l.state.rfind("t", 0) == 0;
		f.cause = "The application accepted nothing in " + num(T) + " s while connections waited: its accept loop is " +
			  (stopped ? "stopped (" + who(l) + " is in state " + l.state + ")." : "blocked or stopped.");
		f.fix.push_back(stopped ? "Resume it: kill -CONT " + n(l.pid) + "."
					: "Find what blocks " + who(l) + ": cat /proc/" + n(l.pid) + "/stack, top -H -p " +
						  n(l.pid) + ", its own logs; a larger backlog only delays the drops.");
		break;
	}
	case Acceptor::slow:
		f.cause = "The application does not accept fast enough: " + num(accepts) + " accepts/s" +
			  (arrivals ? " against " + num(*arrivals) + " arrivals/s" : std::string()) +
			  ", and connections were waiting for it in " + n(l.seconds_busy) + " of " + n(l.seconds) +
			  " s: it runs at its capacity.";
		f.fix.push_back("Accept faster: more worker processes or acceptor threads, or less work between accept() "
				"calls. A larger backlog absorbs bursts, not a rate the server cannot sustain.");
		break;
	case Acceptor::keeps_up: {
		// Room for the bursts seen: the queue's limit, plus the overflows
		// of a second at the limit, with headroom.
		const double need = std::max(kT.headroom * (l.backlog + 1),
					     l.backlog + 1.0 + per_s(double(ovf), std::max(1u, l.seconds_full)));
		f.cause = "The backlog is too small for the bursts: the application has time to spare (no connection "
			  "waited for it in " + n(l.seconds - l.seconds_busy) + " of " + n(l.seconds) + " s; " + num(accepts) +
			  " accepts/s" + (arrivals ? " against " + num(*arrivals) + " attempts/s" : std::string()) +
			  "), but the queue reached its limit in " + n(l.seconds_full) + " s.";
		f.fix.push_back(raise_backlog(in, l, pow2_at_least(need)));
		break;
	}
	}
}

// accept_queue_overflow, worded: the numbers, then the cause and fix the
// acceptor's class says.
Finding accept_queue_finding(const DoctorInput &in, const L &l, Acceptor who_accepts)
{
	const std::uint64_t ovf = overflows(l);
	Finding f;
	f.id = "accept_queue_overflow";
	f.severity = ovf ? Severity::critical : Severity::warning;
	f.title = ovf ? "accept queue overflowing" : "accept queue full: the next connection is dropped";
	f.listeners = {&l};
	const double T = in.seconds;
	const double accepts = per_s(static_cast<double>(l.accepted), T);
	std::optional<double> arrivals;
	if (l.enqueued)
		arrivals = per_s(static_cast<double>(*l.enqueued + ovf), T);
	f.evidence = {{"seconds_busy", double(l.seconds_busy), "s"},
		      {"overflow_syn", double(l.overflow_syn), ""},
		      {"overflow_ack", double(l.overflow_ack), ""},
		      {"accept_queue_peak", double(l.accept_queue_peak), ""},
		      {"backlog", double(l.backlog), ""},
		      {"seconds_full", double(l.seconds_full), "s"},
		      {"hol_wait_peak_us", double(l.hol_wait_peak_us), "us"},
		      {"accepted", double(l.accepted), ""},
		      {"accepts_per_s", accepts, "per_s"}};
	if (arrivals) {
		f.evidence.push_back({"enqueued", double(*l.enqueued), ""});
		f.evidence.push_back({"arrivals_per_s", *arrivals, "per_s"});
	}
	std::string &e = f.evidence_text;
	e = n(ovf) + " overflows in " + num(T) + " s (SYN path " + n(l.overflow_syn) + ", ACK path " + n(l.overflow_ack) +
	    "). The queue peaked at " + n(l.accept_queue_peak) + (full(l) ? " = " : " of ") + "backlog " + n(l.backlog) +
	    " + 1" + " (at the limit in " + n(l.seconds_full) + " of " + n(l.seconds) +
	    " s). The oldest waiting connection waited " + duration_us(l.hol_wait_peak_us) + " (now " +
	    duration_us(l.hol_wait_us) + "). accept(): " + n(l.accepted) + " in " + num(T) + " s (" + num(accepts) + "/s)";
	if (arrivals)
		e += "; arriving: " + n(*l.enqueued) + " queued + " + n(ovf) + " refused = " + num(*arrivals) +
		     "/s (attempts: a refused client retries)";
	else
		e += "; arrivals are not measured in this tier";
	e += ".";
	accept_queue_cause(f, in, l, who_accepts, accepts, arrivals);
	return f;
}

// Detect: a listener that overflowed or reached its limit; classify: its
// acceptor (acceptor_of).
void accept_queue_overflow(const DoctorInput &in, std::vector<Finding> &out)
{
	for (const L &l : in.listeners)
		if (overflows(l) || full(l))
			out.push_back(accept_queue_finding(in, l, acceptor_of(l, in.seconds)));
}

void somaxconn_clamp(const DoctorInput &in, std::vector<Finding> &out)
{
	// One finding per netns and kind: clamped for sure, possibly (with
	// pressure), possibly (without).
	std::map<std::tuple<std::uint32_t, int>, Finding> by;
	for (const L &l : in.listeners) {
		auto smc = somaxconn_of(in, l);
		if (!smc || l.backlog != *smc)
			continue;
		const bool certain = l.requested_backlog && *l.requested_backlog > static_cast<std::int64_t>(*smc);
		if (l.requested_backlog && !certain)
			continue;  // asked for somaxconn (or -1, "the most") and got it
		const bool loaded = full(l) || overflows(l);
		const int kind = certain ? 0 : loaded ? 1 : 2;
		Finding &f = by[{l.id.netns, kind}];
		if (f.id.empty()) {
			f.id = "somaxconn_clamp";
			f.severity = kind == 2 ? Severity::info : Severity::warning;
			f.netns = l.id.netns;
			f.title = certain ? "backlog clamped by net.core.somaxconn"
					  : "backlog = net.core.somaxconn: possibly clamped";
			f.evidence = {{"somaxconn", double(*smc), ""}};
		}
		f.listeners.push_back(&l);
	}
	for (auto &[k, f] : by) {
		const auto [netns, kind] = k;
		const std::uint32_t smc = static_cast<std::uint32_t>(f.evidence[0].value);
		std::int64_t asked = 0;
		for (const L *l : f.listeners)
			if (l->requested_backlog)
				asked = std::max<std::int64_t>(asked, *l->requested_backlog);
		if (kind == 0) {
			f.evidence.push_back({"requested_backlog", double(asked), ""});
			f.evidence_text = "listen() asked for a backlog of " + n(static_cast<std::uint64_t>(asked)) +
					  " and got " + n(smc) + ": net.core.somaxconn of netns " + n(netns) + " is " + n(smc) +
					  " (the kernel clamps listen()'s backlog to it).";
			f.cause = "The application's backlog setting is not in effect.";
		} else {
			f.evidence_text = "The effective backlog is " + n(smc) + ", exactly net.core.somaxconn of netns " +
					  n(netns) + ": possibly clamped. listen()'s argument was not seen (" +
					  (in.syscalls ? "the listener is older than this run"
						       : "the listener is older than this run, or this tier needs --syscalls to see it") +
					  ").";
			f.cause = kind == 1 ? "The queue filled at this limit: if the application asked for more, the clamp is "
					      "why it overflows."
					    : "No pressure at this limit now; nothing to change unless the application asked for more.";
		}
		const std::uint64_t want = kind == 0 ? static_cast<std::uint64_t>(asked) : pow2_at_least(kT.headroom * smc);
		f.fix.push_back("sysctl -w net.core.somaxconn=" + n(want) + " in netns " + n(netns) +
				" (persist it in /etc/sysctl.d/; it is per netns: for a container set it there, for a pod in "
				"securityContext.sysctls, which the kubelet must allow), then restart or reload the server: "
				"the clamp applies at listen().");
		std::set<std::string> apps;
		for (const L *l : f.listeners)
			if (std::string a = backlog_setting_for(l->comm, l->cmdline); !a.empty() && apps.insert(a).second)
				f.fix.push_back("The application's own setting: " + a + ".");
		out.push_back(std::move(f));
	}
}

// What the SYN queue went through in one netns over the window: the
// listeners' own counts, raised to the netns's TcpExt counters where those
// are higher (they count every listener, attributed or not).
struct SynQueueLoad {
	std::uint32_t netns = 0;
	const NetnsObservation *ns = nullptr;
	std::uint64_t drops = 0, cookies = 0, sent = 0, recv = 0, retrans = 0, completed = 0;
	bool completed_known = true;               // every listener's enqueued measured
	std::uint32_t synq_peak = 0, backlog = 0;  // the fullest listener of hit's
	std::vector<const L *> hit;                // drops, cookies, or a queue past its backlog
	bool always_cookies() const { return ns && ns->syncookies && *ns->syncookies == 2; }
	bool syncookies_off() const { return ns && ns->syncookies && *ns->syncookies == 0; }
};

// Detect.
SynQueueLoad syn_queue_load(const DoctorInput &in, std::uint32_t netns, const std::vector<const L *> &ls)
{
	SynQueueLoad q;
	q.netns = netns;
	q.ns = netns_of(in, netns);
	for (const L *l : ls) {
		q.drops += l->synq_full_drops;
		q.cookies += l->synq_full_cookies;
		q.sent += l->syncookies_sent;
		q.retrans += l->synack_retrans;
		if (l->enqueued)
			q.completed += *l->enqueued;
		else
			q.completed_known = false;
		if (l->synq_full_drops || l->synq_full_cookies || l->syncookies_sent || l->syn_queue_peak > l->backlog) {
			q.hit.push_back(l);
			if (l->syn_queue_peak >= q.synq_peak)
				q.synq_peak = l->syn_queue_peak, q.backlog = l->backlog;
		}
	}
	if (q.ns && q.ns->delta) {
		q.drops = std::max(q.drops, q.ns->delta->reqq_full_drop);
		q.cookies = std::max(q.cookies, q.ns->delta->reqq_full_do_cookies);
		q.sent = std::max(q.sent, q.ns->delta->syncookies_sent);
		q.recv = q.ns->delta->syncookies_recv;
	}
	return q;
}

enum class SynQueueClass { none, always_cookies, flood, load, unclear };

// Classify: a flood leaves SYN-ACKs unanswered and cookies unreturned;
// load completes handshakes.
SynQueueClass classify(const SynQueueLoad &q)
{
	if (!q.drops && !q.cookies && (!q.sent || q.always_cookies()) && q.hit.empty())
		return SynQueueClass::none;
	if (q.always_cookies() && !q.drops)
		return SynQueueClass::always_cookies;
	const std::uint64_t answered = q.completed_known ? q.completed : q.recv;
	if ((q.sent >= kT.flood_min && q.recv * kT.cookies_back_one_in < q.sent) ||
	    (q.retrans >= kT.flood_min && answered * kT.completed_one_in < q.retrans))
		return SynQueueClass::flood;
	if (q.recv > 0 || (q.completed_known && q.completed > 0))
		return SynQueueClass::load;
	return SynQueueClass::unclear;
}

// Word.
Finding syn_queue_finding(const DoctorInput &in, const SynQueueLoad &q, SynQueueClass c)
{
	const std::uint32_t netns = q.netns;
	Finding f;
	f.id = "syn_queue_pressure";
	f.netns = netns;
	f.listeners = q.hit;
	if (c == SynQueueClass::always_cookies) {
		f.severity = Severity::info;
		f.title = "tcp_syncookies=2: every SYN is answered with a cookie";
		f.evidence_text = n(q.sent) + " cookies sent in " + num(in.seconds) + " s, " + n(q.recv) +
				  " came back. With tcp_syncookies=2 the SYN queue is never used, so this is not pressure.";
		f.cause = "A setting, usually for testing: cookies carry fewer TCP options than a SYN-queue handshake.";
		f.fix.push_back("sysctl -w net.ipv4.tcp_syncookies=1 in netns " + n(netns) + " (cookies only when the SYN queue is full).");
		return f;
	}
	f.severity = q.drops ? Severity::critical : Severity::warning;
	f.title = q.drops ? "SYN queue full: SYNs dropped" : "SYN queue full: answered with syncookies";
	f.evidence = {{"synq_full_drops", double(q.drops), ""},   {"synq_full_cookies", double(q.cookies), ""},
		      {"syncookies_sent", double(q.sent), ""},    {"syncookies_recv", double(q.recv), ""},
		      {"synack_retrans", double(q.retrans), ""}, {"syn_queue_peak", double(q.synq_peak), ""},
		      {"backlog", double(q.backlog), ""}};
	if (q.completed_known)
		f.evidence.push_back({"enqueued", double(q.completed), ""});
	std::string &e = f.evidence_text;
	e = "In " + num(in.seconds) + " s: " + n(q.drops) + " SYNs dropped and " + n(q.cookies) +
	    " answered with a cookie because the SYN queue was full; " + n(q.recv) + " of " + n(q.sent) +
	    " cookies came back; " + n(q.retrans) + " SYN-ACK retransmits";
	if (q.completed_known)
		e += "; " + n(q.completed) + " handshakes completed into the accept queue";
	if (!q.hit.empty())
		e += ". SYN queue peak " + n(q.synq_peak) + " (its limit is the listener's backlog, " + n(q.backlog) + ")";
	if (q.ns && q.ns->syncookies)
		e += ". net.ipv4.tcp_syncookies = " + n(*q.ns->syncookies);
	if (q.ns && q.ns->max_syn_backlog)
		e += ", net.ipv4.tcp_max_syn_backlog = " + n(*q.ns->max_syn_backlog) + " (it limits the queue only when syncookies are off)";
	e += ".";
	if (c == SynQueueClass::flood) {
		f.cause = "This looks like a SYN flood: SYN-ACKs are retransmitted and cookies do not come back, so the "
			  "SYNs' senders never complete the handshake.";
		if (q.syncookies_off())
			f.fix.push_back("sysctl -w net.ipv4.tcp_syncookies=1 in netns " + n(netns) +
					": with 0 a full SYN queue drops every new SYN, real clients' included.");
		f.fix.push_back("Filter the flood before it reaches the listener: nftables synproxy, a SYN rate limit, or "
				"upstream DDoS protection. A larger SYN queue does not stop a flood.");
		return f;
	}
	f.cause = c == SynQueueClass::load ? "This looks like load: handshakes complete, but more SYNs arrive at once than "
					     "the SYN queue holds."
					   : "Too few handshakes to tell a flood from load.";
	if (q.syncookies_off())
		f.fix.push_back("sysctl -w net.ipv4.tcp_syncookies=1 in netns " + n(netns) +
				" so that a full SYN queue answers with cookies instead of dropping.");
	if (!q.hit.empty())
		f.fix.push_back("The SYN queue's limit is the listener's backlog. " +
				raise_backlog(in, *q.hit.front(), pow2_at_least(kT.headroom * (q.backlog + 1))));
	else
		f.fix.push_back("Raise the backlog of the listener under load: the SYN queue's limit is its backlog.");
	return f;
}

void syn_queue_pressure(const DoctorInput &in, std::vector<Finding> &out)
{
	std::map<std::uint32_t, std::vector<const L *>> by_netns;
	for (const L &l : in.listeners)
		by_netns[l.id.netns].push_back(&l);
	for (const auto &[netns, ls] : by_netns) {
		const SynQueueLoad q = syn_queue_load(in, netns, ls);
		if (const SynQueueClass c = classify(q); c != SynQueueClass::none)
			out.push_back(syn_queue_finding(in, q, c));
	}
}

// With tcp_abort_on_overflow=1 an ACK-path overflow of a request in the
// SYN queue sends a RST (tcp_check_req: listen_overflow -> embryonic_reset,
// which counts EmbryonicRsts); a syncookie's final ACK is only dropped.
// EmbryonicRsts also counts requests a client reset, rare on a server.
void abort_on_overflow(const DoctorInput &in, std::vector<Finding> &out)
{
	for (const auto &[netns, ns] : in.netns) {
		if (!ns.abort_on_overflow || *ns.abort_on_overflow == 0)
			continue;
		Finding f;
		f.id = "abort_on_overflow";
		f.netns = netns;
		std::uint64_t ack_ovf = 0;
		for (const L &l : in.listeners)
			if (l.id.netns == netns && l.overflow_ack) {
				f.listeners.push_back(&l);
				ack_ovf += l.overflow_ack;
			}
		const bool counted = ns.delta.has_value();
		const std::uint64_t rsts = counted ? ns.delta->embryonic_rsts : 0;
		const bool reset = counted ? rsts > 0 : ack_ovf > 0;
		f.severity = reset ? Severity::critical : Severity::info;
		f.title = reset ? "tcp_abort_on_overflow=1: clients are being reset" : "tcp_abort_on_overflow=1";
		f.evidence = {{"tcp_abort_on_overflow", double(*ns.abort_on_overflow), ""}, {"overflow_ack", double(ack_ovf), ""}};
		if (counted)
			f.evidence.push_back({"resets", double(rsts), ""});
		f.evidence_text = "net.ipv4.tcp_abort_on_overflow = " + n(*ns.abort_on_overflow) + " in netns " + n(netns) +
				  ". In " + num(in.seconds) + " s: " +
				  (counted ? n(rsts) + " handshakes reset (EmbryonicRsts) and " : std::string()) + n(ack_ovf) +
				  " ACK-path overflows.";
		if (std::find(in.unmeasured.begin(), in.unmeasured.end(), "overflow_ack") != in.unmeasured.end())
			f.evidence_text += " This tier does not tell ACK-path overflows apart.";
		f.cause = "When the accept queue is full, the final ACK of a handshake gets a RST instead of being dropped: a "
			  "client whose connect() already succeeded gets ECONNRESET, where it would otherwise have "
			  "retransmitted and got in once the queue drained.";
		f.fix.push_back("sysctl -w net.ipv4.tcp_abort_on_overflow=0 in netns " + n(netns) +
				", then fix the overflow itself (see accept_queue_overflow).");
		out.push_back(std::move(f));
	}
}

void reuseport_imbalance(const DoctorInput &in, std::vector<Finding> &out)
{
	std::map<std::tuple<std::uint32_t, int, std::array<std::uint8_t, 16>, std::uint16_t>, std::vector<const L *>> groups;
	for (const L &l : in.listeners)
		groups[{l.id.netns, l.id.family, l.id.addr, l.id.port}].push_back(&l);
	for (auto &[k, members] : groups) {
		if (members.size() < 2)
			continue;
		std::vector<const L *> hot, idle;  // idle: room to spare (kT.idle_peak_den)
		for (const L *l : members) {
			if (full(*l) || overflows(*l))
				hot.push_back(l);
			else if (l->accept_queue_peak * kT.idle_peak_den <= l->backlog)
				idle.push_back(l);
		}
		if (hot.empty() || idle.empty())
			continue;
		Finding f;
		f.id = "reuseport_imbalance";
		f.severity = Severity::warning;
		f.title = "SO_REUSEPORT group out of balance: " + n(hot.size()) + " of " + n(members.size()) +
			  " members full while " + n(idle.size()) + " had room";
		std::sort(members.begin(), members.end(), [](const L *a, const L *b) { return pressure(*a) > pressure(*b); });
		f.listeners = members;
		std::uint64_t ovf = 0;
		for (const L *l : hot)
			ovf += overflows(*l);
		f.evidence = {{"members", double(members.size()), ""},
			      {"members_full", double(hot.size()), ""},
			      {"members_idle", double(idle.size()), ""},
			      {"overflows", double(ovf), ""}};
		std::string &e = f.evidence_text;
		e = "Members of the group on port " + n(std::get<3>(k)) + ":";
		for (const L *l : members)
			e += " " + who(*l) + " peak " + n(l->accept_queue_peak) + "/" + n(l->backlog) + "+1, " +
			     num(per_s(double(l->accepted), in.seconds)) + " accepts/s, " + n(overflows(*l)) + " overflows;";
		e.back() = '.';
		f.cause = "The kernel hashes each new connection to one member of the group (by its addresses and ports), "
			  "whether or not that member accepts: a member that stops accepting keeps getting its share, and "
			  "overflows while the others wait for work.";
		f.fix.push_back("Find why " + who(*hot.front()) + " does not accept (cat /proc/" + n(hot.front()->pid) +
				"/stack, its logs); restart it, or have the server close a stuck worker's listener so the "
				"kernel stops choosing it.");
		f.fix.push_back("To spread by load instead of by hash: one shared listener (no SO_REUSEPORT), or a "
				"reuseport BPF program (SO_ATTACH_REUSEPORT_EBPF) that skips full members.");
		out.push_back(std::move(f));
	}
}

void tcp_diag_missing(const DoctorInput &in, std::vector<Finding> &out)
{
	if (!in.tcp_diag || *in.tcp_diag)
		return;
	Finding f;
	f.id = "tcp_diag_missing";
	f.severity = Severity::info;
	f.title = "tcp_diag missing: ss shows Send-Q 0 for every listener";
	f.evidence_text = "inet_diag has no TCP handler on this kernel (" + in.tcp_diag_detail +
			  "), so `ss -lnt` falls back to /proc/net/tcp, where a listener's tx_queue is always 0: its "
			  "Send-Q column shows 0 instead of the backlog.";
	f.cause = "Tools that read ss (or /proc/net/tcp) for the backlog see 0 here.";
	f.fix.push_back("Use `listenq ss -lnt`: ss's output, with the real backlog as Send-Q.");
	f.fix.push_back("Or load the module, where the kernel ships it: modprobe tcp_diag.");
	out.push_back(std::move(f));
}

// Little's law: a queue holds rate x wait. The wait is the head-of-line
// wait's peak (sampled exactly in every tier; the accept-wait histogram's
// percentiles are log2 slot bounds, up to 2x high).
void backlog_below_demand(const DoctorInput &in, std::vector<Finding> &out)
{
	for (const L &l : in.listeners) {
		const double wait_us = l.hol_wait_peak_us;
		const double rate = l.peak_accepts_per_s;
		// An acceptor that cannot keep up (or stopped) fills any backlog:
		// accept_queue_overflow says so, and sizing would not help.
		if (rate < kT.demand_min_accepts_per_s || wait_us <= 0 || acceptor_of(l, in.seconds) != Acceptor::keeps_up)
			continue;
		const double demand = rate * wait_us / 1e6;
		if (demand <= l.backlog + 1.0)
			continue;
		Finding f;
		f.id = "backlog_below_demand";
		f.severity = Severity::warning;
		f.title = "backlog smaller than the accept rate x the wait";
		f.listeners = {&l};
		f.evidence = {{"peak_accepts_per_s", rate, "per_s"},
			      {"hol_wait_peak_us", wait_us, "us"},
			      {"connections_waiting", std::round(demand * 10) / 10, ""},
			      {"backlog", double(l.backlog), ""}};
		f.evidence_text = "In its busiest second " + who(l) + " accepted " + num(rate) +
				  " connections, and the oldest waiting connection waited up to " + duration_us(wait_us) +
				  " before accept(): at that rate, a wait that long takes " + num(rate) + "/s x " +
				  duration_us(wait_us) + " = " + num(std::round(demand * 10) / 10) +
				  " places in the queue, more than backlog " + n(l.backlog) + " + 1.";
		f.cause = "The backlog cannot absorb a wait this long at this rate (a queue holds rate x wait, Little's "
			  "law): connections arriving meanwhile overflow.";
		const std::uint64_t want = pow2_at_least(kT.headroom * demand);
		f.fix.push_back(raise_backlog(in, l, want));
		f.fix.push_back("Or shorten the wait: accept sooner (more acceptors, less work before accept()).");
		out.push_back(std::move(f));
	}
}

double finding_pressure(const Finding &f)
{
	double p = 0;
	for (const L *l : f.listeners)
		p = std::max(p, pressure(*l) + static_cast<double>(overflows(*l)));
	return p;
}

}  // namespace

std::string severity_name(Severity s)
{
	switch (s) {
	case Severity::critical: return "critical";
	case Severity::warning: return "warning";
	case Severity::info: return "info";
	}
	return "info";
}

const std::vector<std::string> &doctor_checks()
{
	static const std::vector<std::string> checks = {"accept_queue_overflow", "somaxconn_clamp",   "syn_queue_pressure",
							"abort_on_overflow",     "reuseport_imbalance", "tcp_diag_missing",
							"backlog_below_demand"};
	return checks;
}

std::vector<Finding> diagnose(const DoctorInput &in)
{
	std::vector<Finding> out;
	accept_queue_overflow(in, out);
	somaxconn_clamp(in, out);
	syn_queue_pressure(in, out);
	abort_on_overflow(in, out);
	reuseport_imbalance(in, out);
	tcp_diag_missing(in, out);
	backlog_below_demand(in, out);
	std::stable_sort(out.begin(), out.end(), [](const Finding &a, const Finding &b) {
		if (a.severity != b.severity)
			return a.severity < b.severity;
		return finding_pressure(a) > finding_pressure(b);
	});
	return out;
}

bool needs_action(const std::vector<Finding> &f)
{
	return std::any_of(f.begin(), f.end(), [](const Finding &x) { return x.severity != Severity::info; });
}

std::string backlog_setting_for(const std::string &comm, const std::string &cmdline)
{
	auto has = [](const std::string &s, const char *w) { return s.find(w) != std::string::npos; };
	if (comm == "nginx")
		return "nginx: `listen ... backlog=N;` (default 511)";
	if (comm == "redis-server" || comm == "redis-sentinel")
		return "redis: `tcp-backlog N` in redis.conf (default 511)";
	if (comm == "haproxy")
		return "haproxy: `backlog N` in the frontend or defaults section, or on the bind line (default: maxconn)";
	if (has(comm, "gunicorn") || (comm.rfind("python", 0) == 0 && has(cmdline, "gunicorn")))
		return "gunicorn: `--backlog N` (default 2048)";
	if (comm == "java" || has(cmdline, "/java "))
		return "Java: the backlog of `new ServerSocket(port, N)` or `ServerSocketChannel.bind(addr, N)` (default "
		       "50; Tomcat `acceptCount`, Netty `SO_BACKLOG`)";
	return "";
}

}  // namespace listenq
