// listenq export: Prometheus /metrics over HTTP (cli/http_server.h).
//
// The tracer is not thread-safe, so it stays on the main thread, in the
// usual sample/poll loop. An HTTP handler thread asks for a scrape and waits;
// the loop answers it at its next turn (<= 50 ms) with the rows, labelled
// (PromExposition), and the server renders the body from them a piece at a
// time as the client reads. Requests that arrive together share one scrape.
#include <linux/capability.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "cli/http_server.h"
#include "cli/tracing_loop.h"
#include "render/prom_render.h"
#include "sources/port_range.h"
#include "util/clock.h"
#include "util/privilege.h"
#include "util/unique_fd.h"
#include "version.h"

namespace listenq {

namespace {

constexpr const char *kContentType = "text/plain; version=0.0.4; charset=utf-8";

// A scrape ready to render: its rows and labels, and how long it took to
// make them (sampling, reading, summing, labelling).
struct Scraped {
	std::shared_ptr<const PromExposition> exposition;
	double seconds = 0;
};

// One response's body: a scrape rendered as the socket takes it. Its
// listenq_scrape_duration_seconds counts the scrape and this body's
// rendering, not the waits for the client to read.
class MetricsBody : public BodyStream {
public:
	explicit MetricsBody(const Scraped &s)
		: scraped_s_(s.seconds), body_(s.exposition, [this] {
			  return scraped_s_ + rendered_s_ + static_cast<double>(monotonic_ns() - call_ns_) / 1e9;
		  }) {}
	bool next(std::string &out, std::size_t max_bytes) override
	{
		call_ns_ = monotonic_ns();
		const bool more = body_.next(out, max_bytes);
		rendered_s_ += static_cast<double>(monotonic_ns() - call_ns_) / 1e9;
		return more;
	}

private:
	double scraped_s_, rendered_s_ = 0;
	std::uint64_t call_ns_ = 0;
	PromBody body_;  // last: its elapsed() reads the fields above
};

// The handler threads' side of the hand-over. A request also writes to an
// eventfd, so the loop wakes at once instead of at its next 50 ms turn.
class ScrapeDesk {
public:
	ScrapeDesk() : wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
	int wake_fd() const { return wake_.get(); }

	// Handler thread: waits for the loop's next scrape. nullopt if the
	// loop ended or did not answer in time.
	std::optional<Scraped> request(std::chrono::milliseconds timeout)
	{
		std::unique_lock lock(m_);
		const std::uint64_t ticket = ++requested_;
		const std::uint64_t one = 1;
		(void)!::write(wake_.get(), &one, sizeof(one));
		waiting_++;
		const bool got = cv_.wait_for(lock, timeout, [&] { return served_ >= ticket || closed_; }) && served_ >= ticket;
		waiting_--;
		if (!got)
			return std::nullopt;
		// The last reader of this scrape lets the desk drop it: it is not
		// kept alive beside the next scrape's (at 50k listeners, MBs); the
		// bodies being sent hold it until their last piece.
		Scraped s = scraped_;
		if (readers_ && !--readers_)
			scraped_ = {};
		return s;
	}
	// Loop: is a scrape wanted?
	bool pending()
	{
		std::uint64_t n;
		(void)!::read(wake_.get(), &n, sizeof(n));  // drained; the counts below decide
		std::lock_guard lock(m_);
		return requested_ > served_;
	}
	void serve(Scraped s)
	{
		std::lock_guard lock(m_);
		scraped_ = std::move(s);
		readers_ = waiting_;
		served_ = requested_;
		cv_.notify_all();
	}
	void close()
	{
		std::lock_guard lock(m_);
		closed_ = true;
		cv_.notify_all();
	}

private:
	std::mutex m_;
	std::condition_variable cv_;
	std::uint64_t requested_ = 0, served_ = 0;
	Scraped scraped_;
	std::uint64_t waiting_ = 0, readers_ = 0;  // in request(); of them, those that will read scraped_
	bool closed_ = false;
	UniqueFd wake_;
};

// What lives from scrape to scrape: the port sums' counters, the netns
// port ranges, and auto's choice (once per port, it stays: no flapping
// between label sets around the threshold).
struct ExportState {
	PortAggregator ports;
	LocalPortRanges ranges;
	bool by_port = false;
};

// Long: one scrape: read, group, label, stream; each step is short.
Result<Scraped> scrape(Tracer &t, const Options &o, const MetricSet &metrics, ExportState &st)
{
	const std::uint64_t t0 = monotonic_ns();
	// The loop samples every --sample-ms: a scrape reuses a sample that
	// recent (its values are at most that old) rather than walk again.
	if (t0 - t.last_sample_ns() > o.tracing.sample_ms * 1000000ULL)
		if (auto r = t.sample(); !r)
			return r.error();
	// The tracer's table is the one copy: rows point into it (per port), or
	// are copied (per listener: at most kAutoGroupListeners under auto).
	const bool wait_hist = metrics.has(Metric::accept_wait) && t.plan().fields.measured(TraceField::accept_wait);
	if (auto r = t.read_listeners(HistKinds{false, wait_hist}); !r)
		return r.error();
	ExportScrape s;
	s.version = LISTENQ_VERSION;
	s.tier = t.tier();
	s.fields = t.plan().fields;
	s.refused = t.plan().refused;
	s.metrics = metrics;
	s.listeners_tracked = t.listeners().size();
	const PortSet &allow = o.exporter.ports;
	std::vector<const ListenerStat *> rows;
	for (const ListenerStat &l : t.listeners())
		if (wanted(o, l.id, l.owner_pid) && (allow.empty() || allow.contains(l.id.port)))
			rows.push_back(&l);
	const std::string &g = o.exporter.group_by;
	if (g == "port" || (g == "auto" && rows.size() > kAutoGroupListeners))
		st.by_port = true;
	if (st.by_port) {
		// Ephemeral ports fold into one row, unless --port names them.
		std::vector<char> fold(rows.size(), 0);
		if (allow.empty())
			for (std::size_t i = 0; i < rows.size(); i++) {
				auto range = st.ranges.of(rows[i]->id.netns, rows[i]->owner_pid);
				if (!range)
					return range.error();
				fold[i] = range->contains(rows[i]->id.port);
			}
		s.group_by = GroupBy::port;
		s.ports = st.ports.aggregate(rows, fold, wait_hist);
		if (o.exporter.top)
			s.rows_left_out = keep_top(s.ports, o.exporter.top);
	} else {
		s.listeners.reserve(rows.size());
		for (const ListenerStat *l : rows)
			s.listeners.push_back(*l);
		if (o.exporter.top)
			s.rows_left_out = keep_top(s.listeners, o.exporter.top);
		std::sort(s.listeners.begin(), s.listeners.end(), [](const ListenerStat &a, const ListenerStat &b) {
			return std::tie(a.id.port, a.id.family, a.id.netns, a.key) <
			       std::tie(b.id.port, b.id.family, b.id.netns, b.key);
		});
	}
	const TracerStats ts = t.stats();
	s.untracked = ts.untracked;
	s.events_lost = ts.events_lost;
	s.stale_removed = ts.stale_removed;
	s.closed_lost = ts.closed_lost;
	s.hook_runs_missed = ts.hook_runs_missed;
	s.netns_unseeded = ts.netns_unseeded;
	s.samples = ts.samples;
	s.unattributed = t.unattributed();
	t.next_interval();  // peaks are "since the previous scrape"
	Scraped out;
	out.exposition = std::make_shared<const PromExposition>(std::move(s));
	out.seconds = static_cast<double>(monotonic_ns() - t0) / 1e9;
	return out;
}

}  // namespace

// Long: the order of export's life (tracer, HTTP server, loop, shutdown), as it runs.
int run_export(const Options &o, std::ostream &out, std::ostream &err)
{
	if (int rc = preflight(o, err))
		return rc;
	const ListenAddress addr = *parse_listen_address(o.exporter.listen);
	auto tracer = start_tracer(o, nullptr);
	if (!tracer)
		return fail(err, "export", tracer.error());
	Tracer &t = **tracer;
	install_stop_handlers();
	const MetricSet metrics = *parse_metric_set(o.exporter.metrics);  // checked by parse_cli
	ExportState state;

	if (o.exporter.once) {
		// The peaks cover one sampling period, as a scrape after start would.
		const std::uint64_t end = monotonic_ns() + o.tracing.sample_ms * 1000000ULL;
		if (auto r = run_loop(t, o.tracing.sample_ms, [&](std::uint64_t now) { return now < end; }); !r)
			return fail(err, "export", r.error());
		auto scraped = scrape(t, o, metrics, state);
		if (!scraped)
			return fail(err, "export", scraped.error());
		MetricsBody body(*scraped);
		std::string piece;
		for (bool more = true; more;) {
			piece.clear();
			more = body.next(piece, 64 * 1024);
			out << piece;
		}
		return kExitOk;
	}

	::signal(SIGPIPE, SIG_IGN);  // a scraper that hangs up must not kill us
	// The programs are loaded and attached: keep only what sampling and
	// scrapes use from now on (docs/deployment.md, "Capabilities"), before
	// any thread starts. A port below 1024 keeps the right to bind it.
	std::vector<int> keep = {CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_BPF, CAP_PERFMON};
	if (addr.port < 1024)
		keep.push_back(CAP_NET_BIND_SERVICE);
	auto kept = keep_only_capabilities(keep);
	if (!kept)
		err << "listenq export: warning: cannot drop capabilities: " << kept.error().message << '\n';
	ScrapeDesk desk;
	HttpServer server;
	if (auto b = server.bind(addr); !b) {
		err << "listenq: export: cannot listen on " << o.exporter.listen << ": " << b.error().message << '\n';
		return kExitFailure;
	}
	const HttpServer::Handler handler = [&](const HttpRequest &req) -> HttpResponse {
		if (req.path == "/metrics") {
			if (auto scraped = desk.request(std::chrono::seconds(10)))
				return {200, kContentType, std::make_unique<MetricsBody>(*scraped)};
			return {503, "text/plain", "listenq: the tracer loop did not answer\n"};
		}
		if (req.path == "/")
			return {200, "text/html",
				"<html><head><title>listenq</title></head><body><h1>listenq export</h1>"
				"<p><a href=\"/metrics\">/metrics</a></p></body></html>\n"};
		return {404, "text/plain", "listenq export serves /metrics\n"};
	};
	std::thread http([&] { server.run(handler); });
	err << "listenq export: serving http://" << o.exporter.listen << "/metrics (tier " << t.tier()
	    << "); SIGINT or SIGTERM stops it\n";
	err.flush();

	Result<void> scrape_error;
	auto r = run_loop(
		t, o.tracing.sample_ms,
		[&](std::uint64_t) {
			if (!desk.pending())
				return true;
			auto scraped = scrape(t, o, metrics, state);
			if (!scraped) {
				scrape_error = scraped.error();
				return false;
			}
			desk.serve(std::move(*scraped));
			return true;
		},
		desk.wake_fd());
	desk.close();
	server.stop();
	http.join();
	if (!scrape_error)
		return fail(err, "export", scrape_error.error());
	if (!r)
		return fail(err, "export", r.error());
	return kExitOk;
}

}  // namespace listenq
