// A small HTTP/1.1 server for `listenq export`: GET and HEAD, keep-alive,
// gzip when the client accepts it.
//
// One thread runs an epoll loop over non-blocking sockets: it accepts,
// reads request heads and writes responses. Only a complete, valid request
// goes to a worker (a few threads), which runs the handler (it waits for
// the tracer loop: tens of ms) and makes the response's first piece. So a
// client that is slow to send or to read holds no thread, and a slow
// handler delays no other client's head. A large body is streamed
// (HttpResponse::stream): the loop makes its next piece (64 KiB, gzipped
// on its own when asked) each time the previous one has left, so a
// connection holds one piece, not the body, and a slow reader costs no
// more. Each connection has a deadline for what it waits on (HttpLimits):
// its whole head, its whole response, or the next keep-alive request; and
// at most 256 are open.
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
	bool http_1_0 = false;  // no chunked transfer coding: a streamed body ends with the connection
};

// A body made while it is sent, in pieces: the server asks for the next
// one when the previous one has left the socket buffer. Called on one
// thread at a time (a worker for the first piece, then the event loop).
class BodyStream {
public:
	virtual ~BodyStream() = default;
	// Appends the next piece, about max_bytes, to out. false once the body
	// is complete (this call may have appended its last piece).
	virtual bool next(std::string &out, std::size_t max_bytes) = 0;
};

struct HttpResponse {
	HttpResponse() = default;
	HttpResponse(int status_, std::string type, std::string body_)
		: status(status_), content_type(std::move(type)), body(std::move(body_)) {}
	HttpResponse(int status_, std::string type, std::shared_ptr<const std::string> body_)
		: status(status_), content_type(std::move(type)), shared_body(std::move(body_)) {}
	HttpResponse(int status_, std::string type, std::unique_ptr<BodyStream> stream_)
		: status(status_), content_type(std::move(type)), stream(std::move(stream_)) {}
	int status = 200;
	std::string content_type = "text/plain";
	std::string body;
	// Instead of body: one body shared by requests, never copied (a scrape
	// of tens of MB that several scrapers asked for at once).
	std::shared_ptr<const std::string> shared_body;
	// Instead of body: one made as it is sent, with chunked transfer coding
	// (no Content-Length), gzipped a piece at a time when the client
	// accepts gzip.
	std::unique_ptr<BodyStream> stream;
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

// The bytes of a response with a body given whole (not a stream): status
// line, headers (Content-Length), and (except for HEAD) the body,
// gzip-compressed when req.gzip and the type is text.
// "Connection: keep-alive" when req.keep_alive, else "Connection: close".
std::string render_http_response(const HttpRequest &req, const HttpResponse &res);

// The same, in two parts: the head, and the body to send after it (the
// response's own, or the gzip of it in *gzipped).
std::string render_http_head(const HttpRequest &req, const HttpResponse &res, std::string_view *body,
			     std::string *gzipped);

// The head of a streamed response (HttpResponse::stream): chunked
// transfer coding for HTTP/1.1; for HTTP/1.0, which has none, the body
// ends with the connection ("Connection: close"). Content-Encoding: gzip
// when gzip.
std::string render_http_stream_head(const HttpRequest &req, const HttpResponse &res, bool gzip);

// Chunked transfer coding (RFC 9112 7.1): a chunk is its size in hex and
// CRLF, its data, and CRLF; a chunk of size 0 (here with no trailer
// fields) ends the body, so a chunk never has empty data.
void append_http_chunk_size(std::string &out, std::size_t size);
inline constexpr std::string_view kHttpChunkEnd = "\r\n";
inline constexpr std::string_view kHttpLastChunk = "0\r\n\r\n";

// gzip (RFC 1952) of data, via zlib, at level 1: on the exposition format
// it is about 5 % larger than level 6 at half the time (4.2 MB of rows per
// port: 251 KB in 35 ms against 239 KB in 66 ms).
Result<std::string> gzip_compress(std::string_view data);

// The same gzip stream made a piece at a time (zlib's deflate, level 1):
// the pieces' output put together is one gzip member. zlib's own state is
// about 270 KiB, counted in state_bytes().
class GzipStream {
public:
	GzipStream();
	~GzipStream();
	GzipStream(const GzipStream &) = delete;
	GzipStream &operator=(const GzipStream &) = delete;
	bool ok() const;  // deflateInit2 succeeded
	// Compresses data and appends what deflate gives out (it may keep some
	// back for the next piece). finish: data is the last piece; the rest
	// and the gzip trailer follow.
	Result<void> write(std::string_view data, bool finish, std::string &out);
	std::size_t state_bytes() const;

private:
	struct State;
	std::unique_ptr<State> st_;
};

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
	// A streamed body is made this many bytes at a time (and up to a row
	// of the exposition more), as the socket drains.
	std::size_t piece_bytes = 64 * 1024;
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
	// The most bytes one response in flight has held of its own at once
	// (Reply::buffered): its head, its piece and its framing, and gzipped,
	// the piece's gzip and zlib's state; not a body given whole (the
	// handler's, shared). With a streamed body, what a connection costs
	// however large the body and slow the reader: piece_bytes and room for
	// a row (16 KiB) plain; gzipped, up to a piece more and zlib's ~270 KiB
	// (tests/unit/http_stream_test.cpp).
	std::size_t peak_reply_bytes() const { return peak_reply_bytes_; }

private:
	HttpLimits limits_;
	UniqueFd listen_fd_;
	UniqueFd wake_fd_;  // eventfd: stop() and the workers' finished replies wake the loop
	UniqueFd epoll_fd_;
	std::atomic<bool> stopping_{false};
	std::atomic<std::size_t> peak_reply_bytes_{0};
};

}  // namespace listenq
