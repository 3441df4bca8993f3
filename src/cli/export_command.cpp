// listenq export: Prometheus /metrics over HTTP (Debian's cpp-httplib).
//
// The tracer is not thread-safe, so it stays on the main thread, in the
// usual sample/poll loop. An HTTP handler thread asks for a scrape and waits;
// the loop answers it at its next turn (<= 50 ms). Requests that arrive
// together share one scrape.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "cli/tracing_loop.h"
#include "render/prom_render.h"
#include "util/clock.h"
#include "util/unique_fd.h"
#include "version.h"

namespace listenq {

namespace {

constexpr const char *kContentType = "text/plain; version=0.0.4; charset=utf-8";

// The handler threads' side of the hand-over. A request also writes to an
// eventfd, so the loop wakes at once instead of at its next 50 ms turn.
class ScrapeDesk {
public:
	ScrapeDesk() : wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
	int wake_fd() const { return wake_.get(); }

	// Handler thread: waits for the loop's next scrape. nullopt if the
	// loop ended or did not answer in time.
	std::optional<std::string> request(std::chrono::milliseconds timeout)
	{
		std::unique_lock lock(m_);
		const std::uint64_t ticket = ++requested_;
		const std::uint64_t one = 1;
		(void)!::write(wake_.get(), &one, sizeof(one));
		if (!cv_.wait_for(lock, timeout, [&] { return served_ >= ticket || closed_; }) || served_ < ticket)
			return std::nullopt;
		return body_;
	}
	// Loop: is a scrape wanted?
	bool pending()
	{
		std::uint64_t n;
		(void)!::read(wake_.get(), &n, sizeof(n));  // drained; the counts below decide
		std::lock_guard lock(m_);
		return requested_ > served_;
	}
	void serve(std::string body)
	{
		std::lock_guard lock(m_);
		body_ = std::move(body);
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
	std::string body_;
	bool closed_ = false;
	UniqueFd wake_;
};

Result<std::string> scrape(Tracer &t, const Options &o)
{
	const std::uint64_t t0 = monotonic_ns();
	if (auto r = t.sample(); !r)
		return r.error();
	auto stats = t.read_listeners();
	if (!stats)
		return stats.error();
	ExportScrape s;
	s.version = LISTENQ_VERSION;
	s.tier = t.tier();
	s.fields = t.plan().fields;
	s.refused = t.plan().refused;
	s.listeners_tracked = stats->size();
	for (ListenerStat &l : *stats)
		if (wanted(o, l.id, l.owner_pid))
			s.listeners.push_back(std::move(l));
	std::sort(s.listeners.begin(), s.listeners.end(), [](const ListenerStat &a, const ListenerStat &b) {
		return std::tie(a.id.port, a.id.family, a.id.netns, a.key) <
		       std::tie(b.id.port, b.id.family, b.id.netns, b.key);
	});
	const TracerStats ts = t.stats();
	s.untracked = ts.untracked;
	s.events_lost = ts.events_lost;
	s.stale_removed = ts.stale_removed;
	s.netns_unseeded = ts.netns_unseeded;
	s.samples = ts.samples;
	s.unattributed = t.unattributed();
	t.next_interval();  // peaks are "since the previous scrape"
	return render_prometheus(s, [t0] { return static_cast<double>(monotonic_ns() - t0) / 1e9; });
}

// httplib reports no errno: bind a socket ourselves to say why it failed.
std::string why_bind_fails(const ListenAddress &a)
{
	const bool v6 = a.host.find(':') != std::string::npos;
	UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	sockaddr_storage ss{};
	socklen_t len;
	if (v6) {
		auto *sa = reinterpret_cast<sockaddr_in6 *>(&ss);
		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons(a.port);
		if (::inet_pton(AF_INET6, a.host.c_str(), &sa->sin6_addr) != 1)
			return "not an IPv6 address";
		len = sizeof(*sa);
	} else {
		auto *sa = reinterpret_cast<sockaddr_in *>(&ss);
		sa->sin_family = AF_INET;
		sa->sin_port = htons(a.port);
		if (::inet_pton(AF_INET, a.host.c_str(), &sa->sin_addr) != 1)
			return "not an IPv4 address (use a numeric address)";
		len = sizeof(*sa);
	}
	int one = 1;
	::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&ss), len) != 0)
		return std::strerror(errno);
	return "cpp-httplib could not listen";
}

}  // namespace

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

	if (o.exporter.once) {
		// The peaks cover one sampling period, as a scrape after start would.
		const std::uint64_t end = monotonic_ns() + o.tracing.sample_ms * 1000000ULL;
		if (auto r = run_loop(t, o.tracing.sample_ms, [&](std::uint64_t now) { return now < end; }); !r)
			return fail(err, "export", r.error());
		auto body = scrape(t, o);
		if (!body)
			return fail(err, "export", body.error());
		out << *body;
		return kExitOk;
	}

	::signal(SIGPIPE, SIG_IGN);  // a scraper that hangs up must not kill us
	ScrapeDesk desk;
	httplib::Server server;
	server.Get("/metrics", [&](const httplib::Request &, httplib::Response &res) {
		if (auto body = desk.request(std::chrono::seconds(10))) {
			res.set_content(*body, kContentType);
		} else {
			res.status = 503;
			res.set_content("listenq: the tracer loop did not answer\n", "text/plain");
		}
	});
	server.Get("/", [](const httplib::Request &, httplib::Response &res) {
		res.set_content("<html><head><title>listenq</title></head><body><h1>listenq export</h1>"
				"<p><a href=\"/metrics\">/metrics</a></p></body></html>\n",
				"text/html");
	});
	// httplib's default adds SO_REUSEPORT: a second exporter on the same
	// port would share it silently and answer every other scrape.
	server.set_socket_options([](socket_t sock) {
		int yes = 1;
		::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
	});
	if (!server.bind_to_port(addr.host.c_str(), addr.port)) {
		err << "listenq: export: cannot listen on " << o.exporter.listen << ": " << why_bind_fails(addr) << '\n';
		return kExitFailure;
	}
	std::thread http([&] { server.listen_after_bind(); });
	err << "listenq export: serving http://" << o.exporter.listen << "/metrics (tier " << t.tier()
	    << "); SIGINT or SIGTERM stops it\n";
	err.flush();

	Result<void> scrape_error;
	auto r = run_loop(
		t, o.tracing.sample_ms,
		[&](std::uint64_t) {
			if (!desk.pending())
				return true;
			auto body = scrape(t, o);
			if (!body) {
				scrape_error = body.error();
				return false;
			}
			desk.serve(std::move(*body));
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
