#include "render/prom_render.h"

#include <sys/socket.h>

#include <charconv>
#include <cstdio>

namespace listenq {

namespace {

struct Family {
	const char *name;
	const char *type;  // gauge, counter, histogram
	const char *help;
};

// Per row (a listener, or a port with --group-by port). The order is the
// output order.
constexpr Family kPortListeners{"listenq_port_listeners", "gauge",
				"Listening sockets summed into this port's series (--group-by port)."};
constexpr Family kAcceptQueue{"listenq_accept_queue", "gauge",
			      "Connections in the accept queue, waiting for accept() (sk_ack_backlog)."};
constexpr Family kAcceptQueuePeak{"listenq_accept_queue_peak", "gauge",
				  "Highest accept queue since the previous scrape (tier 3: sampled every --sample-ms)."};
constexpr Family kOldestWait{"listenq_accept_queue_oldest_wait_seconds", "gauge",
			     "Head-of-line wait: how long the oldest connection in the accept queue has waited "
			     "(since its SYN-ACK); 0 when the queue is empty."};
constexpr Family kOldestWaitPeak{"listenq_accept_queue_oldest_wait_peak_seconds", "gauge",
				 "Highest head-of-line wait since the previous scrape (sampled every --sample-ms)."};
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
constexpr Family kExportInfo{"listenq_export_info", "gauge",
			     "What a row is (group_by: listener or port) and which series it has (metrics: default, full "
			     "or custom) (always 1)."};
constexpr Family kRowsLeftOut{"listenq_export_rows_left_out", "gauge",
			      "Rows (listeners, or ports) that --top left out of this scrape."};
constexpr Family kListeners{"listenq_listeners", "gauge", "Listeners tracked, in every netns, before the filters."};
constexpr Family kUntracked{"listenq_untracked_listeners", "gauge",
			    "Listeners the listener map had no room for in the last pass (raise --max-listeners)."};
constexpr Family kLost{"listenq_events_lost_total", "counter", "Events the ring buffer had no room for."};
constexpr Family kStale{"listenq_stale_entries_removed_total", "counter",
			"Entries of listeners gone without a close being seen, removed after 5 s unvisited."};
constexpr Family kClosedLost{"listenq_closed_listeners_lost_total", "counter",
			     "Closed listeners whose last counts had no room (over 4096 closes between two scrapes)."};
constexpr Family kHookMisses{"listenq_hook_runs_missed_total", "counter",
			     "Runs of listenq's kprobe/fentry programs the kernel skipped (bpf_prog_info.recursion_misses, "
			     "5.12+): what they would have counted is missing."};
constexpr Family kNetnsUnseeded{"listenq_netns_not_entered", "gauge",
				"Network namespaces the first pass could not enter (their older listeners are missed)."};
constexpr Family kSamples{"listenq_samples_total", "counter", "iter/tcp sampling passes run."};
constexpr Family kUnattributed{"listenq_unattributed_total", "counter",
			       "Tier 3: SYN-path counts of a netns that no single listener could be given."};
constexpr Family kRefused{"listenq_program_refused_info", "gauge",
			  "A BPF program (or map kind) the kernel or LISTENQ_REFUSE refused, the fact it served and what "
			  "serves instead (always 1)."};
constexpr Family kScrape{"listenq_scrape_duration_seconds", "gauge", "Time this scrape took: sample, read, render."};

constexpr Family kAll[] = {kPortListeners, kAcceptQueue, kAcceptQueuePeak, kOldestWait, kOldestWaitPeak, kBacklog,
			   kRequested, kSynQueue, kSynQueuePeak, kOverflows, kAccepts, kQueued, kSynqDrops,
			   kSynqCookies, kCookiesSent, kSynackRetrans, kSocketDrops, kWait, kBuildInfo, kTierInfo,
			   kExportInfo, kRowsLeftOut, kListeners, kUntracked, kLost, kStale, kClosedLost, kHookMisses, kNetnsUnseeded, kSamples,
			   kUnattributed, kRefused, kScrape};

// The family of each Metric, for --metrics.
constexpr const Family *kOfMetric[] = {&kAcceptQueue, &kAcceptQueuePeak, &kOldestWait, &kOldestWaitPeak,
				       &kBacklog,     &kRequested,	 &kSynQueue,   &kSynQueuePeak,
				       &kOverflows,   &kAccepts,	 &kQueued,     &kSynqDrops,
				       &kSynqCookies, &kCookiesSent,	 &kSynackRetrans, &kSocketDrops,
				       &kWait};
static_assert(std::size(kOfMetric) == static_cast<std::size_t>(Metric::count_));

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

// The body, appended to one string reserved up front: no stream, no
// allocation per sample.
class Writer {
public:
	explicit Writer(std::size_t reserve) { out_.reserve(reserve); }
	void family(const Family &f)
	{
		put("# HELP "), put(f.name), put(' '), put(f.help), put("\n# TYPE "), put(f.name), put(' '), put(f.type),
			put('\n');
	}
	// name{labels extra}, or name alone without labels; then value().
	// extra (",le=\"1\"") goes after the row's labels, which are never empty.
	void series(std::string_view name, std::string_view labels, std::string_view extra = {})
	{
		put(name);
		if (!labels.empty() || !extra.empty()) {
			put('{'), put(labels), put(extra), put('}');
		}
		put(' ');
	}
	void value(std::uint64_t v)
	{
		char b[24];
		const auto r = std::to_chars(b, b + sizeof(b), v);
		out_.append(b, static_cast<std::size_t>(r.ptr - b));
		put('\n');
	}
	// v / 10^digits, exactly: microseconds (6) or nanoseconds (9) as seconds.
	void scaled(std::uint64_t v, int digits)
	{
		std::uint64_t div = 1;
		for (int i = 0; i < digits; i++)
			div *= 10;
		char b[24];
		auto r = std::to_chars(b, b + sizeof(b), v / div);
		out_.append(b, static_cast<std::size_t>(r.ptr - b));
		if (std::uint64_t frac = v % div) {
			char f[24];
			int n = digits;
			while (frac % 10 == 0)
				frac /= 10, n--;
			r = std::to_chars(f, f + sizeof(f), frac);
			const int len = static_cast<int>(r.ptr - f);
			put('.');
			out_.append(static_cast<std::size_t>(n - len), '0');
			out_.append(f, static_cast<std::size_t>(len));
		}
		put('\n');
	}
	void text(std::string_view v) { put(v), put('\n'); }
	void put(std::string_view v) { out_.append(v); }
	void put(char c) { out_.push_back(c); }
	std::string take() { return std::move(out_); }

private:
	std::string out_;
};

void put_label(std::string &out, const char *key, std::string_view value)
{
	out += key, out += "=\"", out += value, out += '"';
}

std::string label(const char *key, const std::string &value)
{
	std::string s;
	put_label(s, key, prometheus_label_escape(value));
	return s;
}

// Every row's labels, back to back in one string.
struct RowLabels {
	std::string text;
	std::vector<std::size_t> end;
	std::string_view operator[](std::size_t i) const
	{
		const std::size_t b = i ? end[i - 1] : 0;
		return std::string_view(text).substr(b, end[i] - b);
	}
};

RowLabels listener_labels(const std::vector<ListenerStat> &ls)
{
	RowLabels r;
	r.text.reserve(ls.size() * 110);
	r.end.reserve(ls.size());
	char b[24];
	auto num = [&](std::uint64_t v) {
		const auto e = std::to_chars(b, b + sizeof(b), v);
		return std::string_view(b, static_cast<std::size_t>(e.ptr - b));
	};
	for (const ListenerStat &s : ls) {
		put_label(r.text, "netns", num(s.id.netns));
		r.text += ',';
		put_label(r.text, "family", s.id.family == AF_INET6 ? "ipv6" : "ipv4");
		r.text += ',';
		put_label(r.text, "addr", format_address(s.id.family, s.id.addr));
		r.text += ',';
		put_label(r.text, "port", num(s.id.port));
		r.text += ',';
		put_label(r.text, "comm", prometheus_label_escape(s.owner_comm));
		r.text += ',';
		// No cookie where no program can make one (the kprobe walk
		// samples): the socket inode keeps each socket's series apart (a
		// reuseport group of one process would otherwise repeat a series).
		if (s.id.cookie || !s.id.inode) {
			put_label(r.text, "cookie", num(s.id.cookie));
		} else {
			const std::string ino = "ino:" + std::string(num(s.id.inode));
			put_label(r.text, "cookie", ino);
		}
		// Where the owner runs, only what its cgroup names: constant for
		// the listener's life, so no series more (docs/metrics.md).
		if (const CgroupInfo *c = s.cgroup) {
			const std::pair<const char *, const std::string *> where[] = {
				{"container_id", &c->container_id}, {"pod_uid", &c->pod_uid}, {"unit", &c->unit}};
			for (const auto &[key, value] : where)
				if (!value->empty()) {
					r.text += ',';
					put_label(r.text, key, prometheus_label_escape(*value));
				}
		}
		r.end.push_back(r.text.size());
	}
	return r;
}

RowLabels port_labels(const std::vector<PortGroup> &gs)
{
	RowLabels r;
	r.text.reserve(gs.size() * 16);
	r.end.reserve(gs.size());
	for (const PortGroup &g : gs) {
		put_label(r.text, "port", g.ephemeral ? "ephemeral" : std::to_string(g.port));
		r.end.push_back(r.text.size());
	}
	return r;
}

// Bytes the per-row families will take, near enough to reserve once.
std::size_t estimate(const ExportScrape &s, const RowLabels &labels, std::size_t rows)
{
	std::size_t per_row = 0, series = 0;
	for (unsigned m = 0; m < static_cast<unsigned>(Metric::count_); m++) {
		if (!s.metrics.has(static_cast<Metric>(m)))
			continue;
		const Family &f = *kOfMetric[m];
		const std::size_t n = static_cast<Metric>(m) == Metric::accept_wait ? std::size(kWaitBoundsLog2) + 3
			: static_cast<Metric>(m) == Metric::overflows			 ? 2
											 : 1;
		per_row += n * (std::char_traits<char>::length(f.name) + 40);
		series += n;
	}
	per_row += 64;  // listenq_port_listeners
	return 8192 + rows * per_row + series * labels.text.size();
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


MetricSet MetricSet::defaults()
{
	MetricSet m;
	for (Metric x : {Metric::accept_queue, Metric::oldest_wait, Metric::oldest_wait_peak, Metric::backlog,
			 Metric::syn_queue, Metric::overflows, Metric::socket_drops})
		m.add(x);
	return m;
}

MetricSet MetricSet::full()
{
	MetricSet m;
	for (unsigned i = 0; i < static_cast<unsigned>(Metric::count_); i++)
		m.add(static_cast<Metric>(i));
	return m;
}

Result<MetricSet> parse_metric_set(std::string_view text)
{
	MetricSet m;
	bool any = false;
	while (!text.empty()) {
		const std::size_t comma = text.find(',');
		std::string_view item = text.substr(0, comma);
		text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
		if (item.empty())
			continue;
		any = true;
		if (item == "default" || item == "full") {
			const MetricSet add = item == "default" ? MetricSet::defaults() : MetricSet::full();
			for (unsigned i = 0; i < static_cast<unsigned>(Metric::count_); i++)
				if (add.has(static_cast<Metric>(i)))
					m.add(static_cast<Metric>(i));
			continue;
		}
		const std::string_view name = item.substr(0, 8) == "listenq_" ? item.substr(8) : item;
		bool found = false;
		for (unsigned i = 0; i < static_cast<unsigned>(Metric::count_) && !found; i++)
			if (name == std::string_view(kOfMetric[i]->name).substr(8)) {
				m.add(static_cast<Metric>(i));
				found = true;
			}
		if (!found)
			return Error{EINVAL, "\"" + std::string(item) +
						     "\" is not default, full or a per-row family (listenq_accept_queue_peak, "
						     "listenq_accept_wait_seconds, ...: docs/metrics.md)"};
	}
	if (!any)
		return Error{EINVAL, "expected default, full or a list of families"};
	return m;
}

std::string metric_set_name(const MetricSet &m)
{
	return m == MetricSet::defaults() ? "default" : m == MetricSet::full() ? "full" : "custom";
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

std::string render_prometheus(const ExportScrape &s, const std::function<double()> &elapsed)
{
	// The rows: listeners, or ports.
	const bool by_port = s.group_by == GroupBy::port;
	const std::size_t rows = by_port ? s.ports.size() : s.listeners.size();
	const RowLabels labels = by_port ? port_labels(s.ports) : listener_labels(s.listeners);
	auto stat = [&](std::size_t i) -> const ListenerStat & { return by_port ? s.ports[i].sum : s.listeners[i]; };
	Writer w(estimate(s, labels, rows));

	// One family: HELP, TYPE, then emit(row, labels) per row. A template,
	// not a std::function: called once per sample.
	auto per_row = [&](const Family &f, auto emit) {
		w.family(f);
		for (std::size_t i = 0; i < rows; i++)
			emit(stat(i), labels[i]);
	};
	auto gauge = [&](Metric m, auto field) {
		if (!s.metrics.has(m))
			return;
		const Family &f = *kOfMetric[static_cast<unsigned>(m)];
		per_row(f, [&](const ListenerStat &l, std::string_view lb) {
			w.series(f.name, lb);
			w.value(field(l));
		});
	};
	auto seconds = [&](Metric m, auto micros) {
		if (!s.metrics.has(m))
			return;
		const Family &f = *kOfMetric[static_cast<unsigned>(m)];
		per_row(f, [&](const ListenerStat &l, std::string_view lb) {
			w.series(f.name, lb);
			w.scaled(micros(l), 6);
		});
	};

	if (by_port) {
		w.family(kPortListeners);
		for (std::size_t i = 0; i < rows; i++) {
			w.series(kPortListeners.name, labels[i]);
			w.value(s.ports[i].listeners);
		}
	}
	gauge(Metric::accept_queue, [](const ListenerStat &l) { return std::uint64_t{l.accept_queue}; });
	gauge(Metric::accept_queue_peak, [](const ListenerStat &l) { return std::uint64_t{l.accept_queue_peak}; });
	seconds(Metric::oldest_wait, [](const ListenerStat &l) { return std::uint64_t{l.hol_wait_us}; });
	seconds(Metric::oldest_wait_peak, [](const ListenerStat &l) { return std::uint64_t{l.hol_wait_peak_us}; });
	gauge(Metric::backlog, [](const ListenerStat &l) { return std::uint64_t{l.backlog}; });
	// A sum of requested backlogs means nothing: per listener only.
	if (s.metrics.has(Metric::backlog_requested) && !by_port)
		per_row(kRequested, [&](const ListenerStat &l, std::string_view lb) {
			if (l.requested_backlog) {
				w.series(kRequested.name, lb);
				w.text(std::to_string(*l.requested_backlog));
			}
		});
	gauge(Metric::syn_queue, [](const ListenerStat &l) { return std::uint64_t{l.syn_queue}; });
	gauge(Metric::syn_queue_peak, [](const ListenerStat &l) { return std::uint64_t{l.syn_queue_peak}; });

	// Without an ACK-path measurement overflow_syn holds both paths.
	const bool split = s.fields.measured(TraceField::overflow_ack);
	if (s.metrics.has(Metric::overflows))
		per_row(kOverflows, [&](const ListenerStat &l, std::string_view lb) {
			if (split) {
				w.series(kOverflows.name, lb, ",path=\"syn\"");
				w.value(l.overflow_syn);
				w.series(kOverflows.name, lb, ",path=\"ack\"");
				w.value(l.overflow_ack);
			} else {
				w.series(kOverflows.name, lb, ",path=\"all\"");
				w.value(l.overflow_syn + l.overflow_ack);
			}
		});
	if (s.fields.measured(TraceField::accepted))
		gauge(Metric::accepts, [](const ListenerStat &l) { return l.accepted; });
	if (s.fields.measured(TraceField::enqueued))
		gauge(Metric::queued, [](const ListenerStat &l) { return l.enqueued; });
	gauge(Metric::synq_drops, [](const ListenerStat &l) { return l.synq_full_drops; });
	gauge(Metric::synq_cookies, [](const ListenerStat &l) { return l.synq_full_cookies; });
	gauge(Metric::cookies_sent, [](const ListenerStat &l) { return l.syncookies_sent; });
	if (s.fields.measured(TraceField::synack_retrans))
		gauge(Metric::synack_retrans, [](const ListenerStat &l) { return l.synack_retrans; });
	gauge(Metric::socket_drops, [](const ListenerStat &l) { return std::uint64_t{l.drops}; });

	if (s.fields.measured(TraceField::accept_wait) && s.metrics.has(Metric::accept_wait)) {
		static const std::vector<std::string> bounds = [] {
			std::vector<std::string> v;
			for (int b : kWaitBoundsLog2)
				v.push_back(",le=\"" + number(static_cast<double>(1ULL << b) * 1e-6) + '"');
			v.push_back(",le=\"+Inf\"");
			return v;
		}();
		const std::string bucket = std::string(kWait.name) + "_bucket";
		const std::string sum = std::string(kWait.name) + "_sum";
		const std::string count = std::string(kWait.name) + "_count";
		per_row(kWait, [&](const ListenerStat &l, std::string_view lb) {
			std::uint64_t cum = 0;
			int slot = 0;
			std::size_t k = 0;
			for (int b : kWaitBoundsLog2) {
				for (; slot < b; slot++)
					cum += l.wait_hist[static_cast<std::size_t>(slot)];
				w.series(bucket, lb, bounds[k++]);
				w.value(cum);
			}
			for (; slot < kHistSlots; slot++)
				cum += l.wait_hist[static_cast<std::size_t>(slot)];
			w.series(bucket, lb, bounds[k]);
			w.value(cum);
			w.series(sum, lb);
			w.scaled(l.wait_sum_ns, 9);
			w.series(count, lb);
			w.value(cum);
		});
	}

	auto single = [&](const Family &f, const std::string &lb, const std::string &v) {
		w.family(f);
		w.series(f.name, lb);
		w.text(v);
	};
	single(kBuildInfo, label("version", s.version), "1");
	single(kTierInfo, label("tier", s.tier), "1");
	single(kExportInfo,
	       label("group_by", by_port ? "port" : "listener") + ',' + label("metrics", metric_set_name(s.metrics)), "1");
	single(kRowsLeftOut, "", std::to_string(s.rows_left_out));
	single(kListeners, "", std::to_string(s.listeners_tracked));
	single(kUntracked, "", std::to_string(s.untracked));
	single(kLost, "", std::to_string(s.events_lost));
	single(kStale, "", std::to_string(s.stale_removed));
	single(kClosedLost, "", std::to_string(s.closed_lost));
	single(kHookMisses, "", std::to_string(s.hook_runs_missed));
	single(kNetnsUnseeded, "", std::to_string(s.netns_unseeded));
	single(kSamples, "", std::to_string(s.samples));
	w.family(kUnattributed);
	for (const Unattributed &u : s.unattributed) {
		const std::string ns = label("netns", std::to_string(u.netns)) + ',';
		w.series(kUnattributed.name, ns + label("count", "overflow_syn"));
		w.value(u.counts.overflow_syn);
		w.series(kUnattributed.name, ns + label("count", "synq_full_drops"));
		w.value(u.counts.synq_full_drops);
		w.series(kUnattributed.name, ns + label("count", "synq_full_cookies"));
		w.value(u.counts.synq_full_cookies);
		w.series(kUnattributed.name, ns + label("count", "syncookies_sent"));
		w.value(u.counts.syncookies_sent);
	}
	w.family(kRefused);
	for (const RefusedProgram &r : s.refused) {
		w.series(kRefused.name, label("program", r.program) + ',' + label("kind", r.kind) + ',' +
						label("fact", r.fact) + ',' + label("reason", r.reason) + ',' +
						label("by", r.by_user ? "LISTENQ_REFUSE" : "kernel") + ',' +
						label("fallback", r.fallback));
		w.text("1");
	}
	single(kScrape, "", number(elapsed ? elapsed() : s.scrape_seconds));
	return w.take();
}

}  // namespace listenq
