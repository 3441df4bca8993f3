// `listenq export`: the Prometheus text exposition format (version 0.0.4).
// Pure: a scrape's data in, the /metrics body out, in pieces of a bounded
// size as a socket takes them (PromBody), or whole. The metric names are a
// stable interface (docs/metrics.md, contrib/grafana/listenq.json).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/port_groups.h"
#include "model/syn_attribution.h"
#include "model/trace_model.h"
#include "plan/plan.h"
#include "util/result.h"

namespace listenq {

// The metric families written per row (a listener, or a port). listenq's
// own health series are always written.
enum class Metric : unsigned {
	accept_queue,
	accept_queue_peak,
	oldest_wait,       // head-of-line wait
	oldest_wait_peak,
	backlog,
	backlog_requested,
	syn_queue,
	syn_queue_peak,
	overflows,
	accepts,
	queued,
	synq_drops,
	synq_cookies,
	cookies_sent,
	synack_retrans,
	socket_drops,
	accept_wait,  // the histogram
	count_
};

// --metrics: which of them. default: what an SRE alerts on (queue, backlog,
// SYN queue, overflows by path, drops, head-of-line wait).
class MetricSet {
public:
	static MetricSet defaults();
	static MetricSet full();
	bool has(Metric m) const { return bits_ & bit(m); }
	void add(Metric m) { bits_ |= bit(m); }
	bool operator==(const MetricSet &) const = default;

private:
	static std::uint32_t bit(Metric m) { return 1u << static_cast<unsigned>(m); }
	std::uint32_t bits_ = 0;
};
// "default", "full", or a comma list of those and family names
// ("default,listenq_accept_queue_peak"; the listenq_ prefix may be left
// out). The error names the unknown item.
Result<MetricSet> parse_metric_set(std::string_view text);
// "default", "full" or "custom": listenq_export_info's label.
std::string metric_set_name(const MetricSet &m);

// --group-by: a row per listening socket, or per local port.
enum class GroupBy { listener, port };

struct ExportScrape {
	std::string version;                  // listenq_build_info
	std::string tier;                     // listenq_attach_tier_info
	FieldSources fields;                  // series of fields not measured are left out
	std::vector<RefusedProgram> refused;  // listenq_program_refused_info
	MetricSet metrics = MetricSet::defaults();
	GroupBy group_by = GroupBy::listener;
	std::vector<ListenerStat> listeners;  // GroupBy::listener: the rows (after the filters and --top)
	std::vector<PortGroup> ports;         // GroupBy::port: the rows
	std::uint64_t rows_left_out = 0;      // by --top
	std::uint64_t listeners_tracked = 0;  // every listener in the map
	std::uint64_t untracked = 0, events_lost = 0, stale_removed = 0, closed_lost = 0, hook_runs_missed = 0, netns_unseeded = 0, samples = 0;
	std::vector<Unattributed> unattributed;
	double scrape_seconds = 0;  // sampling + reading + this rendering, so far
};

// A scrape made ready to render: each row's labels written once, and its
// numbers copied (RowStat), so that nothing points into the tracer's
// table any more (a listener's cgroup lives there until the next read).
// Make it on the thread that owns the tracer; then it is immutable, and
// any number of PromBody may render it at once, on any thread.
class PromExposition {
public:
	explicit PromExposition(ExportScrape s);
	~PromExposition();
	PromExposition(const PromExposition &) = delete;
	PromExposition &operator=(const PromExposition &) = delete;

private:
	friend class PromBody;
	struct Parts;
	std::unique_ptr<Parts> p_;
};

// One /metrics body, written a piece at a time: family by family, row by
// row, where the previous piece ended. The pieces together are the body
// render_prometheus() returns, byte for byte.
class PromBody {
public:
	// elapsed, when given, is called for listenq_scrape_duration_seconds,
	// the last series (so that the rendering is counted); else the
	// exposition's scrape_seconds is written.
	explicit PromBody(std::shared_ptr<const PromExposition> e, std::function<double()> elapsed = nullptr);
	// Appends the next whole lines to out: max_bytes of them, or up to one
	// row's more (a listener's row of every series: under 16 KiB). false
	// once the body is complete (this call may have appended its end).
	bool next(std::string &out, std::size_t max_bytes);

private:
	std::shared_ptr<const PromExposition> e_;
	std::function<double()> elapsed_;
	std::size_t section_ = 0, row_ = 0;  // where the next piece starts
	bool started_ = false;               // the section's HELP and TYPE are written
};

// The whole body in one string. elapsed as for PromBody.
std::string render_prometheus(const ExportScrape &s, const std::function<double()> &elapsed = nullptr);

// Every metric family render_prometheus can write (with _bucket/_sum/_count
// for the histogram): what a dashboard may use.
std::vector<std::string> prometheus_series_names();

// A label value escaped per the exposition format (\\, \", \n), with
// bytes that are not UTF-8 replaced by U+FFFD.
std::string prometheus_label_escape(const std::string &v);
bool is_valid_utf8(const std::string &s);

}  // namespace listenq
