// A small HTTP/1.1 server for `listenq export`: GET and HEAD, keep-alive,
// gzip when the client accepts it.
//
// One thread runs an epoll loop over non-blocking sockets: it accepts,
// reads request heads and writes responses. Only a complete, valid request
// goes to a worker (a few threads), which runs the handler (it renders
// metrics, or waits for the tracer loop: tens of ms) and the gzip. So a
// client that is slow to send or to read holds no thread, and a slow
// handler delays no other client's head. Each connection has a deadline for
// what it waits on (HttpLimits): its whole head, its whole response, or the
// next keep-alive request; and at most 256 are open.
//
// This replaces cpp-httplib. Debian builds cpp-httplib as a shared library
// (libcpp-httplib.so, which links OpenSSL and Brotli) and ships no .a, so
// the static build could not link it. This code also makes no getaddrinfo()
// call: addresses are numeric (parse_listen_address), so there is no NSS.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cli/options.h"
#include "util/result.h"
#include "util/unique_fd.h"

namespace listenq {

struct HttpRequest {
	std::string method;  // "GET"
	std::string path;    // "/metrics" (without the query string)
	bool gzip = false;   // Accept-Encoding allows gzip
	// Another request may follow on the connection: HTTP/1.1 unless
	// "Connection: close", HTTP/1.0 only with "Connection: keep-alive". Never
	// after a request with a body: the server reads none, so it could not
	// find the next head.
	bool keep_alive = false;
};

struct HttpResponse {
	HttpResponse() = default;
	HttpResponse(int status_, std::string type, std::string body_)
		: status(status_), content_type(std::move(type)), body(std::move(body_)) {}
	HttpResponse(int status_, std::string type, std::shared_ptr<const std::string> body_)
		: status(status_), content_type(std::move(type)), shared_body(std::move(body_)) {}
	int status = 200;
	std::string content_type = "text/plain";
	std::string body;
	// Instead of body: one body shared by requests, never copied (a scrape
	// of tens of MB that several scrapers asked for at once).
	std::shared_ptr<const std::string> shared_body;
	std::string_view body_view() const { return shared_body ? std::string_view(*shared_body) : body; }
};

// Where a request head ends in the bytes a connection has read so far.
// Empty lines before the request line are skipped (RFC 9112 2.2). The
// head, its blank line included, must fit in max_head bytes.
struct HeadFrame {
	enum Status { incomplete, complete, too_large } status = incomplete;
	std::string_view head;     // complete: request line and headers, into the buffer
	std::size_t consumed = 0;  // complete: bytes up to the end of the blank line
};
HeadFrame frame_http_head(std::string_view buf, std::size_t max_head);

// Parses a request head (the request line and headers, up to the blank
// line). nullopt if the request line is malformed.
std::optional<HttpRequest> parse_http_request(std::string_view head);

// Does an Accept-Encoding value allow gzip? "gzip", "deflate, gzip;q=1.0",
// "*" do; "gzip;q=0" and "identity" do not.
bool accepts_gzip(std::string_view accept_encoding);

// The bytes of a response: status line, headers, and (except for HEAD)
// the body, gzip-compressed when req.gzip and the type is text.
// "Connection: keep-alive" when req.keep_alive, else "Connection: close".
std::string render_http_response(const HttpRequest &req, const HttpResponse &res);

// The same, in two parts: the head, and the body to send after it (the
// response's own, or the gzip of it in *gzipped).
std::string render_http_head(const HttpRequest &req, const HttpResponse &res, std::string_view *body,
			     std::string *gzipped);

// gzip (RFC 1952) of data, via zlib, at level 1: on the exposition format
// it is about 5 % larger than level 6 at half the time (4.2 MB of rows per
// port: 251 KB in 35 ms against 239 KB in 66 ms).
Result<std::string> gzip_compress(std::string_view data);

// The server's bounds. The defaults are the exporter's; tests shorten them.
struct HttpLimits {
	std::size_t max_head = 8192;  // request line and headers; a longer head gets 431
	// From accept (or a keep-alive request's first byte) to the end of the
	// head, however it trickles in. A client that sent part of a head by
	// then gets 408; one that sent nothing is closed.
	std::chrono::milliseconds head_timeout{5000};
	// Between keep-alive requests: above Prometheus's default scrape
	// interval (1 min), so a scraper keeps its connection from scrape to
	// scrape.
	std::chrono::milliseconds idle_timeout{75000};
	// A whole response. Prometheus gives up at its scrape_timeout (10 s by
	// default, at most the scrape interval); a client still not done after
	// 60 s has stopped reading, and its connection is reset.
	std::chrono::milliseconds write_timeout{60000};
	// Open connections, in any state. A new one beyond it closes the
	// longest-idle keep-alive connection, or if none is idle gets 503.
	std::size_t max_connections = 256;
	int workers = 4;  // threads that run the handler
};

class HttpServer {
public:
	using Handler = std::function<HttpResponse(const HttpRequest &)>;

	HttpServer() = default;
	explicit HttpServer(const HttpLimits &limits) : limits_(limits) {}

	// socket, SO_REUSEADDR (not SO_REUSEPORT: a second exporter on the same
	// port must fail, not share it), bind and listen; and the epoll set run()
	// waits on. The error names the errno, e.g. "Address already in use".
	Result<void> bind(const ListenAddress &addr);
	// The port bound (the kernel's choice after bind to port 0).
	std::uint16_t port() const;
	// Serves until stop(): the event loop on this thread, the handler on
	// limits.workers threads. Blocks.
	void run(const Handler &handler);
	// Any thread, also before run(): makes run() return once the handler
	// calls in progress return. Open connections are closed.
	void stop();

private:
	HttpLimits limits_;
	UniqueFd listen_fd_;
	UniqueFd wake_fd_;  // eventfd: stop() and the workers' finished replies wake the loop
	UniqueFd epoll_fd_;
	std::atomic<bool> stopping_{false};
};

}  // namespace listenq
