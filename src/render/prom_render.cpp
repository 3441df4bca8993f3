#include "render/prom_render.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <sstream>

namespace listenq {

namespace {

struct Family {
	const char *name;
	const char *type;  // gauge, counter, histogram
	const char *help;
};

// Per listener. The order is the output order.
constexpr Family kAcceptQueue{"listenq_accept_queue", "gauge",
			      "Connections in the accept queue, waiting for accept() (sk_ack_backlog)."};
constexpr Family kAcceptQueuePeak{"listenq_accept_queue_peak", "gauge",
				  "Highest accept queue since the previous scrape (tier 3: sampled every --sample-ms)."};
constexpr Family kBacklog{"listenq_listen_backlog", "gauge",
			  "Accept queue limit (sk_max_ack_backlog): listen()'s backlog after the somaxconn clamp."};
constexpr Family kRequested{"listenq_listen_backlog_requested", "gauge",
			    "Backlog passed to listen(); absent for listeners that listened before listenq started."};
constexpr Family kSynQueue{"listenq_syn_queue", "gauge", "Request sockets in the SYN queue (icsk_accept_queue.qlen)."};
constexpr Family kSynQueuePeak{"listenq_syn_queue_peak", "gauge", "Highest SYN queue since the previous scrape (sampled)."};
constexpr Family kOverflows{"listenq_overflows_total", "counter",
			    "Accept-queue overflows by path: syn (SYN dropped), ack (final ACK dropped); "
			    "all where this tier cannot split them."};
constexpr Family kAccepts{"listenq_accepts_total", "counter", "Connections taken by accept()."};
constexpr Family kQueued{"listenq_connections_queued_total", "counter",
			 "Connections put on the accept queue (tiers 1-2 only)."};
constexpr Family kSynqDrops{"listenq_syn_queue_full_drops_total", "counter",
			    "SYNs dropped because the SYN queue was full and syncookies were off (TCPReqQFullDrop)."};
constexpr Family kSynqCookies{"listenq_syn_queue_full_cookies_total", "counter",
			      "SYNs answered with a syncookie because the SYN queue was full (TCPReqQFullDoCookies)."};
constexpr Family kCookiesSent{"listenq_syncookies_sent_total", "counter", "Syncookies sent (SyncookiesSent)."};
constexpr Family kSynackRetrans{"listenq_synack_retransmits_total", "counter", "SYN-ACKs retransmitted."};
constexpr Family kSocketDrops{"listenq_socket_drops_total", "counter",
			      "Packets this listening socket dropped (sk_drops: overflows, SYN-queue drops, ...)."};
constexpr Family kWait{"listenq_accept_wait_seconds", "histogram",
		       "Time from the accept queue to accept() (tiers 1-2 only)."};

// listenq itself.
constexpr Family kBuildInfo{"listenq_build_info", "gauge", "listenq's version (always 1)."};
constexpr Family kTierInfo{"listenq_attach_tier_info", "gauge",
			   "The attach tiers in use: fentry, kprobe, tracepoint or a mix (always 1)."};
constexpr Family kListeners{"listenq_listeners", "gauge", "Listeners tracked, in every netns, before the filters."};
constexpr Family kUntracked{"listenq_untracked_listeners", "gauge",
			    "Listeners the listener map had no room for in the last pass (raise --max-listeners)."};
constexpr Family kLost{"listenq_events_lost_total", "counter", "Events the ring buffer had no room for."};
constexpr Family kStale{"listenq_stale_entries_removed_total", "counter",
			"Entries of listeners gone without a close being seen, removed after 5 s unvisited."};
constexpr Family kNetnsUnseeded{"listenq_netns_not_entered", "gauge",
				"Network namespaces the first pass could not enter (their older listeners are missed)."};
constexpr Family kSamples{"listenq_samples_total", "counter", "iter/tcp sampling passes run."};
constexpr Family kUnattributed{"listenq_unattributed_total", "counter",
			       "Tier 3: SYN-path counts of a netns that no single listener could be given."};
constexpr Family kRefused{"listenq_program_refused_info", "gauge",
			  "A BPF program (or map kind) the kernel or LISTENQ_REFUSE refused, the fact it served and what "
			  "serves instead (always 1)."};
constexpr Family kScrape{"listenq_scrape_duration_seconds", "gauge", "Time this scrape took: sample, read, render."};

constexpr Family kAll[] = {kAcceptQueue, kAcceptQueuePeak, kBacklog, kRequested, kSynQueue, kSynQueuePeak,
			   kOverflows, kAccepts, kQueued, kSynqDrops, kSynqCookies, kCookiesSent,
			   kSynackRetrans, kSocketDrops, kWait, kBuildInfo, kTierInfo, kListeners,
			   kUntracked, kLost, kStale, kNetnsUnseeded, kSamples, kUnattributed, kRefused, kScrape};

// Upper bounds of the accept-wait buckets, in µs: every other power of two
// of the BPF log2 histogram (slot i holds [2^i, 2^(i+1)) µs), so each
// bucket is an exact sum of slots. 2 µs .. 33.5 s, then +Inf.
constexpr int kWaitBoundsLog2[] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25};

std::string number(double v)
{
	char b[40];
	std::snprintf(b, sizeof(b), "%.9g", v);
	return b;
}

class Writer {
public:
	void family(const Family &f)
	{
		os_ << "# HELP " << f.name << ' ' << f.help << '\n' << "# TYPE " << f.name << ' ' << f.type << '\n';
	}
	void sample(const std::string &name, const std::string &labels, const std::string &value)
	{
		os_ << name;
		if (!labels.empty())
			os_ << '{' << labels << '}';
		os_ << ' ' << value << '\n';
	}
	void sample(const std::string &name, const std::string &labels, std::uint64_t v)
	{
		sample(name, labels, std::to_string(v));
	}
	std::string str() && { return std::move(os_).str(); }  // the buffer itself, not a copy

private:
	std::ostringstream os_;
};

std::string label(const char *key, const std::string &value)
{
	return std::string(key) + "=\"" + prometheus_label_escape(value) + '"';
}

std::string listener_labels(const ListenerStat &s)
{
	return label("netns", std::to_string(s.id.netns)) + ',' +
	       label("family", s.id.family == AF_INET6 ? "ipv6" : "ipv4") + ',' +
	       label("addr", format_address(s.id.family, s.id.addr)) + ',' + label("port", std::to_string(s.id.port)) +
	       ',' + label("comm", s.owner_comm) + ',' + label("cookie", std::to_string(s.id.cookie));
}

}  // namespace

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF).
std::size_t utf8_length(const std::string &s, std::size_t i)
{
	const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
	const unsigned char c = b(i);
	if (c < 0x80)
		return 1;
	std::size_t n;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
	else
		return 0;
	if (i + n > s.size() || b(i + 1) < lo || b(i + 1) > hi)
		return 0;
	for (std::size_t k = 2; k < n; k++)
		if (b(i + k) < 0x80 || b(i + k) > 0xBF)
			return 0;
	return n;
}

}  // namespace

// Prometheus rejects a whole scrape over one label value that is not UTF-8,
// and comm is whatever bytes a process chose (prctl PR_SET_NAME): each
// invalid byte becomes U+FFFD.
std::string prometheus_label_escape(const std::string &v)
{
	std::string out;
	out.reserve(v.size());
	for (std::size_t i = 0; i < v.size();) {
		const char c = v[i];
		const std::size_t n = utf8_length(v, i);
		if (c == '\\' || c == '"')
			out += '\\', out += c;
		else if (c == '\n')
			out += "\\n";
		else if (n == 0)
			out += "\xEF\xBF\xBD";
		else
			out.append(v, i, n);
		i += n ? n : 1;
	}
	return out;
}

bool is_valid_utf8(const std::string &s)
{
	for (std::size_t i = 0; i < s.size();) {
		const std::size_t n = utf8_length(s, i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

std::vector<std::string> prometheus_series_names()
{
	std::vector<std::string> v;
	for (const Family &f : kAll) {
		if (std::string(f.type) == "histogram") {
			for (const char *suffix : {"_bucket", "_sum", "_count"})
				v.push_back(std::string(f.name) + suffix);
		} else {
			v.push_back(f.name);
		}
	}
	return v;
}

std::vector<const ListenerStat *> ExportScrape::exported() const
{
	if (!listener_refs.empty())
		return listener_refs;
	std::vector<const ListenerStat *> v;
	v.reserve(listeners.size());
	for (const ListenerStat &l : listeners)
		v.push_back(&l);
	return v;
}

std::string render_prometheus(const ExportScrape &s, const std::function<double()> &elapsed)
{
	Writer w;
	const std::vector<const ListenerStat *> ls = s.exported();
	std::vector<std::string> labels;
	labels.reserve(ls.size());
	for (const ListenerStat *l : ls)
		labels.push_back(listener_labels(*l));

	// One family: HELP, TYPE, then a sample per listener (value() may skip).
	auto per_listener = [&](const Family &f, const std::function<void(const ListenerStat &, const std::string &)> &emit) {
		w.family(f);
		for (std::size_t i = 0; i < ls.size(); i++)
			emit(*ls[i], labels[i]);
	};
	auto each = [&](const Family &f, auto field) {
		per_listener(f, [&](const ListenerStat &l, const std::string &lb) { w.sample(f.name, lb, field(l)); });
	};
	each(kAcceptQueue, [](const ListenerStat &l) { return std::uint64_t{l.accept_queue}; });
	each(kAcceptQueuePeak, [](const ListenerStat &l) { return std::uint64_t{l.accept_queue_peak}; });
	each(kBacklog, [](const ListenerStat &l) { return std::uint64_t{l.backlog}; });
	per_listener(kRequested, [&](const ListenerStat &l, const std::string &lb) {
		if (l.requested_backlog)
			w.sample(kRequested.name, lb, std::to_string(*l.requested_backlog));
	});
	each(kSynQueue, [](const ListenerStat &l) { return std::uint64_t{l.syn_queue}; });
	each(kSynQueuePeak, [](const ListenerStat &l) { return std::uint64_t{l.syn_queue_peak}; });

	// Without an ACK-path measurement overflow_syn holds both paths.
	const bool split = s.fields.measured(TraceField::overflow_ack);
	per_listener(kOverflows, [&](const ListenerStat &l, const std::string &lb) {
		if (split) {
			w.sample(kOverflows.name, lb + ",path=\"syn\"", l.overflow_syn);
			w.sample(kOverflows.name, lb + ",path=\"ack\"", l.overflow_ack);
		} else {
			w.sample(kOverflows.name, lb + ",path=\"all\"", l.overflow_syn + l.overflow_ack);
		}
	});
	if (s.fields.measured(TraceField::accepted))
		each(kAccepts, [](const ListenerStat &l) { return l.accepted; });
	if (s.fields.measured(TraceField::enqueued))
		each(kQueued, [](const ListenerStat &l) { return l.enqueued; });
	each(kSynqDrops, [](const ListenerStat &l) { return l.synq_full_drops; });
	each(kSynqCookies, [](const ListenerStat &l) { return l.synq_full_cookies; });
	each(kCookiesSent, [](const ListenerStat &l) { return l.syncookies_sent; });
	if (s.fields.measured(TraceField::synack_retrans))
		each(kSynackRetrans, [](const ListenerStat &l) { return l.synack_retrans; });
	each(kSocketDrops, [](const ListenerStat &l) { return std::uint64_t{l.drops}; });

	if (s.fields.measured(TraceField::accept_wait)) {
		per_listener(kWait, [&](const ListenerStat &l, const std::string &lb) {
			const std::string bucket = std::string(kWait.name) + "_bucket";
			std::uint64_t cum = 0;
			int slot = 0;
			for (int b : kWaitBoundsLog2) {
				for (; slot < b; slot++)
					cum += l.wait_hist[static_cast<std::size_t>(slot)];
				w.sample(bucket, lb + ",le=\"" + number(static_cast<double>(1ULL << b) * 1e-6) + '"', cum);
			}
			for (; slot < kHistSlots; slot++)
				cum += l.wait_hist[static_cast<std::size_t>(slot)];
			w.sample(bucket, lb + ",le=\"+Inf\"", cum);
			w.sample(std::string(kWait.name) + "_sum", lb, number(static_cast<double>(l.wait_sum_ns) * 1e-9));
			w.sample(std::string(kWait.name) + "_count", lb, cum);
		});
	}

	auto single = [&](const Family &f, const std::string &lb, const std::string &v) {
		w.family(f);
		w.sample(f.name, lb, v);
	};
	single(kBuildInfo, label("version", s.version), "1");
	single(kTierInfo, label("tier", s.tier), "1");
	single(kListeners, "", std::to_string(s.listeners_tracked));
	single(kUntracked, "", std::to_string(s.untracked));
	single(kLost, "", std::to_string(s.events_lost));
	single(kStale, "", std::to_string(s.stale_removed));
	single(kNetnsUnseeded, "", std::to_string(s.netns_unseeded));
	single(kSamples, "", std::to_string(s.samples));
	w.family(kUnattributed);
	for (const Unattributed &u : s.unattributed) {
		const std::string ns = label("netns", std::to_string(u.netns)) + ',';
		w.sample(kUnattributed.name, ns + label("count", "overflow_syn"), u.counts.overflow_syn);
		w.sample(kUnattributed.name, ns + label("count", "synq_full_drops"), u.counts.synq_full_drops);
		w.sample(kUnattributed.name, ns + label("count", "synq_full_cookies"), u.counts.synq_full_cookies);
		w.sample(kUnattributed.name, ns + label("count", "syncookies_sent"), u.counts.syncookies_sent);
	}
	w.family(kRefused);
	for (const RefusedProgram &r : s.refused)
		w.sample(kRefused.name,
			 label("program", r.program) + ',' + label("kind", r.kind) + ',' + label("fact", r.fact) + ',' +
				 label("reason", r.reason) + ',' + label("by", r.by_user ? "LISTENQ_REFUSE" : "kernel") + ',' +
				 label("fallback", r.fallback),
			 "1");
	single(kScrape, "", number(elapsed ? elapsed() : s.scrape_seconds));
	return std::move(w).str();
}

}  // namespace listenq
