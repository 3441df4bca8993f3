// The /metrics body in pieces (render/prom_render.h): PromExposition holds
// a scrape's rows, labels written once per row; PromBody writes the body
// from it, family by family, a piece at a time.
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "render/prom_families.h"
#include "render/prom_render.h"

namespace listenq {

using namespace prom;

namespace {

std::string number(double v)
{
	char b[40];
	std::snprintf(b, sizeof(b), "%.9g", v);
	return b;
}

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

std::string_view name_of(const Family &f) { return f.name; }

// Bytes a value takes at most after its series: a u64 (20 digits), or one
// scaled to seconds (20 + '.' + 9), or a double (%.9g), and the newline.
constexpr std::size_t kValueBytes = 40;

// Room past max_bytes for the row that crosses it: a listener's row of
// every series, histogram and cgroup labels included, is under 16 KiB, so
// a piece's string is sized once.
constexpr std::size_t kRowRoom = 16 * 1024;

// Appends to a string through a raw pointer. The room a row needs is made
// once (need(), which grows the string if it must), then its series are
// copied in with no check per append. The destructor trims the string to
// what was written.
class Writer {
public:
	Writer(std::string &out, std::size_t max_bytes) : out_(out), start_(out.size()), max_(std::max<std::size_t>(max_bytes, 1))
	{
		const std::size_t used = out_.size();
		out_.resize(used + std::min<std::size_t>(max_, std::size_t{1} << 20) + kRowRoom);
		p_ = out_.data() + used;
		end_ = out_.data() + out_.size();
	}
	~Writer() { out_.resize(static_cast<std::size_t>(p_ - out_.data())); }
	Writer(const Writer &) = delete;
	Writer &operator=(const Writer &) = delete;

	// max_bytes written in this call: the piece ends after this row.
	bool full() const { return static_cast<std::size_t>(p_ - out_.data()) - start_ >= max_; }
	void need(std::size_t n)
	{
		if (static_cast<std::size_t>(end_ - p_) >= n)
			return;
		const std::size_t used = static_cast<std::size_t>(p_ - out_.data());
		out_.resize(std::max(used + n, 2 * out_.size()));
		p_ = out_.data() + used;
		end_ = out_.data() + out_.size();
	}
	void put(std::string_view v)
	{
		if (!v.empty())  // an empty view's data() may be null, which memcpy may not get
			std::memcpy(p_, v.data(), v.size());
		p_ += v.size();
	}
	void put(char c) { *p_++ = c; }

	void family(const Family &f)
	{
		const std::string_view name = f.name, type = f.type, help = f.help;
		need(2 * name.size() + type.size() + help.size() + 20);
		put("# HELP "), put(name), put(' '), put(help), put("\n# TYPE "), put(name), put(' '), put(type), put('\n');
	}
	// name{labels extra}, or name alone without labels; then a value.
	// extra (",le=\"1\"") goes after the row's labels, which are never empty.
	void series(std::string_view name, std::string_view labels, std::string_view extra = {})
	{
		put(name);
		if (!labels.empty() || !extra.empty())
			put('{'), put(labels), put(extra), put('}');
		put(' ');
	}
	template <typename Int>
	void value(Int v)
	{
		p_ = std::to_chars(p_, end_, v).ptr;
		put('\n');
	}
	// v / 10^digits, exactly: microseconds (6) or nanoseconds (9) as seconds.
	void scaled(std::uint64_t v, int digits)
	{
		std::uint64_t div = 1;
		for (int i = 0; i < digits; i++)
			div *= 10;
		p_ = std::to_chars(p_, end_, v / div).ptr;
		if (std::uint64_t frac = v % div) {
			int n = digits;
			while (frac % 10 == 0)
				frac /= 10, n--;
			char f[24];
			const auto len = static_cast<int>(std::to_chars(f, f + sizeof(f), frac).ptr - f);
			put('.');
			for (int k = len; k < n; k++)  // the fraction's leading zeros
				put('0');
			put(std::string_view(f, static_cast<std::size_t>(len)));
		}
		put('\n');
	}
	void text(std::string_view v) { put(v), put('\n'); }

private:
	std::string &out_;
	const std::size_t start_, max_;
	char *p_ = nullptr, *end_ = nullptr;
};

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
				{"container_id", &c->container_id}, {"pod_uid", &c->pod_uid}, {"unit", &c->unit},
				{"namespace", &c->pod_namespace}, {"pod", &c->pod}, {"container", &c->container}};
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

using Field = std::uint64_t (*)(const RowStat &);

// What a section of the body writes: a family's HELP and TYPE (when it has
// one), then its series, row by row.
enum class Kind {
	port_listeners,  // per port: the listeners summed
	gauge,           // per row: field
	seconds,         // per row: field, in µs, as seconds
	requested,       // per listener: the requested backlog, where listen() was seen
	overflows,       // per row: path="syn" and "ack", or "all"
	histogram,       // per row: the accept-wait buckets, sum and count
	text,            // listenq's own single series, written whole
	unattributed,    // per netns with SYN-path counts no listener was given
	refused,         // per refused program
	scrape,          // listenq_scrape_duration_seconds, last
};

struct Section {
	Kind kind;
	const Family *family = nullptr;
	std::size_t rows = 1;
	Field field = nullptr;
};

}  // namespace

struct PromExposition::Parts {
	ExportScrape s;  // without its listeners: their numbers are in listener_rows
	bool by_port = false;
	bool split = false;  // overflows by path
	std::vector<RowStat> listener_rows;
	RowLabels labels;
	std::string singles;  // listenq_build_info .. listenq_samples_total
	std::vector<std::string> refused_labels;
	std::vector<Section> sections;

	const RowStat &row(std::size_t i) const { return by_port ? s.ports[i].sum : listener_rows[i]; }
};

// Long: labels and rows of every family taken in one pass, before the tracer's table moves on.
PromExposition::PromExposition(ExportScrape s) : p_(std::make_unique<Parts>())
{
	Parts &p = *p_;
	p.by_port = s.group_by == GroupBy::port;
	p.split = s.fields.measured(TraceField::overflow_ack);
	// Labels now, while a listener's cgroup still points into the tracer's
	// table; its numbers are copied, and the ListenerStat copies go.
	if (p.by_port) {
		p.labels = port_labels(s.ports);
	} else {
		p.labels = listener_labels(s.listeners);
		p.listener_rows.reserve(s.listeners.size());
		for (const ListenerStat &l : s.listeners)
			p.listener_rows.push_back(RowStat::of(l));
		std::vector<ListenerStat>().swap(s.listeners);
	}
	const std::size_t rows = p.by_port ? s.ports.size() : p.listener_rows.size();

	// The sections in the body's order.
	auto add = [&](Kind k, const Family &f, std::size_t n, Field field = nullptr) {
		p.sections.push_back({k, &f, n, field});
	};
	auto gauge = [&](Metric m, Field field, Kind k = Kind::gauge) {
		if (s.metrics.has(m))
			add(k, *kOfMetric[static_cast<unsigned>(m)], rows, field);
	};
	if (p.by_port)
		add(Kind::port_listeners, kPortListeners, rows);
	gauge(Metric::accept_queue, [](const RowStat &r) { return std::uint64_t{r.accept_queue}; });
	gauge(Metric::accept_queue_peak, [](const RowStat &r) { return std::uint64_t{r.accept_queue_peak}; });
	gauge(Metric::oldest_wait, [](const RowStat &r) { return std::uint64_t{r.hol_wait_us}; }, Kind::seconds);
	gauge(Metric::oldest_wait_peak, [](const RowStat &r) { return std::uint64_t{r.hol_wait_peak_us}; }, Kind::seconds);
	gauge(Metric::backlog, [](const RowStat &r) { return std::uint64_t{r.backlog}; });
	// A sum of requested backlogs means nothing: per listener only.
	if (s.metrics.has(Metric::backlog_requested) && !p.by_port)
		add(Kind::requested, kRequested, rows);
	gauge(Metric::syn_queue, [](const RowStat &r) { return std::uint64_t{r.syn_queue}; });
	gauge(Metric::syn_queue_peak, [](const RowStat &r) { return std::uint64_t{r.syn_queue_peak}; });
	gauge(Metric::overflows, nullptr, Kind::overflows);
	if (s.fields.measured(TraceField::accepted))
		gauge(Metric::accepts, [](const RowStat &r) { return r.accepted; });
	if (s.fields.measured(TraceField::enqueued))
		gauge(Metric::queued, [](const RowStat &r) { return r.enqueued; });
	gauge(Metric::synq_drops, [](const RowStat &r) { return r.synq_full_drops; });
	gauge(Metric::synq_cookies, [](const RowStat &r) { return r.synq_full_cookies; });
	gauge(Metric::cookies_sent, [](const RowStat &r) { return r.syncookies_sent; });
	if (s.fields.measured(TraceField::synack_retrans))
		gauge(Metric::synack_retrans, [](const RowStat &r) { return r.synack_retrans; });
	gauge(Metric::socket_drops, [](const RowStat &r) { return std::uint64_t{r.drops}; });
	if (s.fields.measured(TraceField::accept_wait))
		gauge(Metric::accept_wait, nullptr, Kind::histogram);

	// listenq's own series: a few lines, written once here.
	{
		std::string &t = p.singles;
		auto single = [&](const Family &f, const std::string &lb, const std::string &v) {
			t += "# HELP ", t += f.name, t += ' ', t += f.help, t += "\n# TYPE ", t += f.name, t += ' ', t += f.type;
			t += '\n', t += f.name;
			if (!lb.empty())
				t += '{', t += lb, t += '}';
			t += ' ', t += v, t += '\n';
		};
		single(kBuildInfo, label("version", s.version), "1");
		single(kTierInfo, label("tier", s.tier), "1");
		single(kExportInfo,
		       label("group_by", p.by_port ? "port" : "listener") + ',' +
			       label("metrics", metric_set_name(s.metrics)),
		       "1");
		single(kRowsLeftOut, "", std::to_string(s.rows_left_out));
		single(kListeners, "", std::to_string(s.listeners_tracked));
		single(kUntracked, "", std::to_string(s.untracked));
		single(kLost, "", std::to_string(s.events_lost));
		single(kStale, "", std::to_string(s.stale_removed));
		single(kClosedLost, "", std::to_string(s.closed_lost));
		single(kHookMisses, "", std::to_string(s.hook_runs_missed));
		single(kNetnsUnseeded, "", std::to_string(s.netns_unseeded));
		single(kSamples, "", std::to_string(s.samples));
		p.sections.push_back({Kind::text, nullptr, 1, nullptr});
	}
	add(Kind::unattributed, kUnattributed, s.unattributed.size());
	for (const RefusedProgram &r : s.refused)
		p.refused_labels.push_back(label("program", r.program) + ',' + label("kind", r.kind) + ',' +
					   label("fact", r.fact) + ',' + label("reason", r.reason) + ',' +
					   label("by", r.by_user ? "LISTENQ_REFUSE" : "kernel") + ',' +
					   label("fallback", r.fallback));
	add(Kind::refused, kRefused, s.refused.size());
	add(Kind::scrape, kScrape, 1);
	p.s = std::move(s);
}

PromExposition::~PromExposition() = default;

PromBody::PromBody(std::shared_ptr<const PromExposition> e, std::function<double()> elapsed)
	: e_(std::move(e)), elapsed_(std::move(elapsed)) {}

// Long: one resumable cursor over the exposition (family, series, row, bucket); split, its state would cross functions.
bool PromBody::next(std::string &out, std::size_t max_bytes)
{
	const PromExposition::Parts &p = *e_->p_;
	Writer w(out, max_bytes);
	while (section_ < p.sections.size()) {
		if (w.full())
			return true;
		const Section &sec = p.sections[section_];
		if (!started_) {
			if (sec.family)
				w.family(*sec.family);
			started_ = true;
		}
		const std::string_view name = sec.family ? name_of(*sec.family) : std::string_view{};
		std::size_t &i = row_;
		switch (sec.kind) {
		case Kind::port_listeners:
			for (; i < sec.rows && !w.full(); i++) {
				const std::string_view lb = p.labels[i];
				w.need(name.size() + lb.size() + kValueBytes + 3);
				w.series(name, lb);
				w.value(p.s.ports[i].listeners);
			}
			break;
		case Kind::gauge:
			for (; i < sec.rows && !w.full(); i++) {
				const std::string_view lb = p.labels[i];
				w.need(name.size() + lb.size() + kValueBytes + 3);
				w.series(name, lb);
				w.value(sec.field(p.row(i)));
			}
			break;
		case Kind::seconds:
			for (; i < sec.rows && !w.full(); i++) {
				const std::string_view lb = p.labels[i];
				w.need(name.size() + lb.size() + kValueBytes + 3);
				w.series(name, lb);
				w.scaled(sec.field(p.row(i)), 6);
			}
			break;
		case Kind::requested:
			for (; i < sec.rows && !w.full(); i++)
				if (const auto &rb = p.row(i).requested_backlog) {
					const std::string_view lb = p.labels[i];
					w.need(name.size() + lb.size() + kValueBytes + 3);
					w.series(name, lb);
					w.value(*rb);
				}
			break;
		case Kind::overflows:
			// Without an ACK-path measurement overflow_syn holds both paths.
			for (; i < sec.rows && !w.full(); i++) {
				const std::string_view lb = p.labels[i];
				const RowStat &r = p.row(i);
				w.need(2 * (name.size() + lb.size() + 16 + kValueBytes));
				if (p.split) {
					w.series(name, lb, ",path=\"syn\"");
					w.value(r.overflow_syn);
					w.series(name, lb, ",path=\"ack\"");
					w.value(r.overflow_ack);
				} else {
					w.series(name, lb, ",path=\"all\"");
					w.value(r.overflow_syn + r.overflow_ack);
				}
			}
			break;
		case Kind::histogram: {
			static const std::vector<std::string> bounds = [] {
				std::vector<std::string> v;
				for (int b : kWaitBoundsLog2)
					v.push_back(",le=\"" + number(static_cast<double>(1ULL << b) * 1e-6) + '"');
				v.push_back(",le=\"+Inf\"");
				return v;
			}();
			static const std::string bucket = std::string(kWait.name) + "_bucket",
						 sum = std::string(kWait.name) + "_sum",
						 count = std::string(kWait.name) + "_count";
			for (; i < sec.rows && !w.full(); i++) {
				const std::string_view lb = p.labels[i];
				const RowStat &r = p.row(i);
				w.need((bounds.size() + 2) * (bucket.size() + lb.size() + 20 + kValueBytes));
				std::uint64_t cum = 0;
				int slot = 0;
				std::size_t k = 0;
				for (int b : kWaitBoundsLog2) {
					for (; slot < b; slot++)
						cum += r.wait_hist[static_cast<std::size_t>(slot)];
					w.series(bucket, lb, bounds[k++]);
					w.value(cum);
				}
				for (; slot < kHistSlots; slot++)
					cum += r.wait_hist[static_cast<std::size_t>(slot)];
				w.series(bucket, lb, bounds[k]);
				w.value(cum);
				w.series(sum, lb);
				w.scaled(r.wait_sum_ns, 9);
				w.series(count, lb);
				w.value(cum);
			}
			break;
		}
		case Kind::text:
			w.need(p.singles.size());
			w.put(p.singles);
			i = 1;
			break;
		case Kind::unattributed:
			for (; i < sec.rows && !w.full(); i++) {
				const Unattributed &u = p.s.unattributed[i];
				const std::string ns = label("netns", std::to_string(u.netns)) + ',';
				const std::pair<const char *, std::uint64_t> counts[] = {
					{"overflow_syn", u.counts.overflow_syn},
					{"synq_full_drops", u.counts.synq_full_drops},
					{"synq_full_cookies", u.counts.synq_full_cookies},
					{"syncookies_sent", u.counts.syncookies_sent}};
				for (const auto &[what, n] : counts) {
					const std::string lb = ns + label("count", what);
					w.need(name.size() + lb.size() + kValueBytes + 3);
					w.series(name, lb);
					w.value(n);
				}
			}
			break;
		case Kind::refused:
			for (; i < sec.rows && !w.full(); i++) {
				const std::string_view lb = p.refused_labels[i];
				w.need(name.size() + lb.size() + kValueBytes + 3);
				w.series(name, lb);
				w.text("1");
			}
			break;
		case Kind::scrape: {
			const std::string v = number(elapsed_ ? elapsed_() : p.s.scrape_seconds);
			w.need(name.size() + v.size() + 2);
			w.series(name, {});
			w.text(v);
			i = 1;
			break;
		}
		}
		if (i < sec.rows)
			return true;
		section_++, row_ = 0, started_ = false;
	}
	return false;
}

std::string render_prometheus(const ExportScrape &s, const std::function<double()> &elapsed)
{
	PromBody body(std::make_shared<const PromExposition>(s), elapsed);
	std::string out;
	while (body.next(out, SIZE_MAX)) {
	}
	return out;
}

}  // namespace listenq
