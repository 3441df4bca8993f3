// A small HTTP/1.1 server for `listenq export`: GET and HEAD, one request
// per connection (Connection: close), gzip when the client accepts it.
//
// This replaces cpp-httplib. Debian builds cpp-httplib as a shared library
// (libcpp-httplib.so, which links OpenSSL and Brotli) and ships no .a, so
// the static build could not link it. This code also makes no getaddrinfo()
// call: addresses are numeric (parse_listen_address), so there is no NSS.
#pragma once

#include <atomic>
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

// Parses a request head (the request line and headers, up to the blank
// line). nullopt if the request line is malformed.
std::optional<HttpRequest> parse_http_request(std::string_view head);

// Does an Accept-Encoding value allow gzip? "gzip", "deflate, gzip;q=1.0",
// "*" do; "gzip;q=0" and "identity" do not.
bool accepts_gzip(std::string_view accept_encoding);

// The bytes of a response: status line, headers, and (except for HEAD)
// the body, gzip-compressed when req.gzip and the type is text.
std::string render_http_response(const HttpRequest &req, const HttpResponse &res);

// The same, in two parts: the head, and the body to send after it (the
// response's own, or the gzip of it in *gzipped).
std::string render_http_head(const HttpRequest &req, const HttpResponse &res, std::string_view *body,
			     std::string *gzipped);

// gzip (RFC 1952) of data, via zlib, at level 1: on the exposition format
// it is about 5 % larger than level 6 at half the time (4.2 MB of rows per
// port: 251 KB in 35 ms against 239 KB in 66 ms).
Result<std::string> gzip_compress(std::string_view data);

class HttpServer {
public:
	using Handler = std::function<HttpResponse(const HttpRequest &)>;

	// socket, SO_REUSEADDR (not SO_REUSEPORT: a second exporter on the same
	// port must fail, not share it), bind and listen. The error names the
	// errno, e.g. "Address already in use".
	Result<void> bind(const ListenAddress &addr);
	// Serves with a few threads until stop(). Blocks.
	void run(const Handler &handler);
	// Any thread: makes run() return once requests in progress end (each
	// is bounded by a 5 s socket timeout).
	void stop();

private:
	void accept_loop(const Handler &handler);
	UniqueFd listen_fd_;
	std::atomic<bool> stopping_{false};
};

}  // namespace listenq
