#include "cli/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>
#include <vector>

namespace listenq {

namespace {

constexpr std::size_t kMaxHead = 8192;  // request line and headers
constexpr int kThreads = 4;             // connections served at once
constexpr int kSocketTimeoutSec = 5;    // per recv()/send() on a connection

std::string_view trim(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
		s.remove_suffix(1);
	return s;
}

bool iequals(std::string_view a, std::string_view b)
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); i++)
		if ((a[i] | 0x20) != (b[i] | 0x20))
			return false;
	return true;
}

const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

bool send_all(int fd, std::string_view data)
{
	while (!data.empty()) {
		const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;  // the client left, or the send timed out
		data.remove_prefix(static_cast<std::size_t>(n));
	}
	return true;
}

void serve_connection(int fd, const HttpServer::Handler &handler)
{
	const timeval tv{kSocketTimeoutSec, 0};
	::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	std::string head;
	char buf[4096];
	std::size_t end;
	while ((end = head.find("\r\n\r\n")) == std::string::npos && (end = head.find("\n\n")) == std::string::npos) {
		if (head.size() > kMaxHead) {
			send_all(fd, render_http_response({}, {431, "text/plain", "request head over 8 KiB\n"}));
			return;
		}
		const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;  // closed, timed out or failed before a whole head
		head.append(buf, static_cast<std::size_t>(n));
	}
	head.resize(end);
	HttpResponse res;
	auto req = parse_http_request(head);
	if (!req) {
		req = HttpRequest{};
		res = {400, "text/plain", "malformed request line\n"};
	} else if (req->method != "GET" && req->method != "HEAD") {
		res = {405, "text/plain", "only GET and HEAD\n"};
	} else {
		res = handler(*req);
	}
	std::string_view body;
	std::string gzipped;
	if (send_all(fd, render_http_head(*req, res, &body, &gzipped)))
		send_all(fd, body);
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding)
{
	std::optional<bool> gzip, any;
	while (!accept_encoding.empty()) {
		const std::size_t comma = accept_encoding.find(',');
		std::string_view item = accept_encoding.substr(0, comma);
		accept_encoding = comma == std::string_view::npos ? "" : accept_encoding.substr(comma + 1);
		const std::size_t semi = item.find(';');
		const std::string_view coding = trim(item.substr(0, semi));
		bool q_zero = false;
		if (semi != std::string_view::npos) {
			std::string_view param = trim(item.substr(semi + 1));
			if (param.size() > 2 && (param[0] | 0x20) == 'q' && param[1] == '=')
				q_zero = trim(param.substr(2)).find_first_not_of("0.") == std::string_view::npos;
		}
		if (iequals(coding, "gzip") || iequals(coding, "x-gzip"))
			gzip = !q_zero;
		else if (coding == "*")
			any = !q_zero;
	}
	return gzip ? *gzip : any.value_or(false);
}

std::optional<HttpRequest> parse_http_request(std::string_view head)
{
	const std::size_t eol = head.find('\n');
	const std::string_view line = trim(head.substr(0, eol));
	std::string_view rest = eol == std::string_view::npos ? "" : head.substr(eol + 1);
	// "METHOD SP target SP HTTP/1.x"
	const std::size_t sp1 = line.find(' ');
	const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
	if (sp1 == 0 || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos ||
	    line.substr(sp2 + 1).substr(0, 7) != "HTTP/1.")
		return std::nullopt;
	HttpRequest r;
	r.method = line.substr(0, sp1);
	const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
	if (target.empty() || target[0] != '/')
		return std::nullopt;
	r.path = target.substr(0, target.find('?'));
	while (!rest.empty()) {
		const std::size_t nl = rest.find('\n');
		const std::string_view h = rest.substr(0, nl);
		rest = nl == std::string_view::npos ? "" : rest.substr(nl + 1);
		const std::size_t colon = h.find(':');
		if (colon != std::string_view::npos && iequals(trim(h.substr(0, colon)), "accept-encoding"))
			r.gzip = r.gzip || accepts_gzip(h.substr(colon + 1));
	}
	return r;
}

Result<std::string> gzip_compress(std::string_view data)
{
	if (data.size() > UINT_MAX)
		return Error{EFBIG, "gzip: body over 4 GiB"};
	z_stream zs{};
	// windowBits 15 + 16: a gzip header and trailer instead of zlib's.
	if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return Error{ENOMEM, "gzip: deflateInit2 failed"};
	std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
	zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
	zs.avail_in = static_cast<uInt>(data.size());
	zs.next_out = reinterpret_cast<Bytef *>(out.data());
	zs.avail_out = static_cast<uInt>(out.size());
	const int rc = deflate(&zs, Z_FINISH);
	out.resize(zs.total_out);
	deflateEnd(&zs);
	if (rc != Z_STREAM_END)
		return Error{EIO, "gzip: deflate returned " + std::to_string(rc)};
	return out;
}

std::string render_http_head(const HttpRequest &req, const HttpResponse &res, std::string_view *body,
			     std::string *gzipped)
{
	const bool text = res.content_type.rfind("text/", 0) == 0;
	*body = res.body_view();
	bool zipped = false;
	if (text && req.gzip && !body->empty())
		if (auto z = gzip_compress(*body)) {
			*gzipped = std::move(*z);
			*body = *gzipped;
			zipped = true;
		}
	std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reason_of(res.status) + "\r\n";
	out += "Content-Type: " + res.content_type + "\r\n";
	out += "Content-Length: " + std::to_string(body->size()) + "\r\n";
	if (zipped)
		out += "Content-Encoding: gzip\r\n";
	if (text)
		out += "Vary: Accept-Encoding\r\n";
	if (res.status == 405)
		out += "Allow: GET, HEAD\r\n";
	out += "Connection: close\r\n\r\n";
	if (req.method == "HEAD")
		*body = {};
	return out;
}

std::string render_http_response(const HttpRequest &req, const HttpResponse &res)
{
	std::string_view body;
	std::string gzipped;
	std::string out = render_http_head(req, res, &body, &gzipped);
	out += body;
	return out;
}

Result<void> HttpServer::bind(const ListenAddress &addr)
{
	UniqueFd fd(::socket(addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd.valid())
		return Error::from_errno(errno, "socket");
	sockaddr_storage ss{};
	socklen_t len;
	if (addr.family == AF_INET6) {
		auto *sa = reinterpret_cast<sockaddr_in6 *>(&ss);
		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons(addr.port);
		if (::inet_pton(AF_INET6, addr.host.c_str(), &sa->sin6_addr) != 1)
			return Error{EINVAL, "not a numeric IPv6 address"};
		len = sizeof(*sa);
	} else {
		auto *sa = reinterpret_cast<sockaddr_in *>(&ss);
		sa->sin_family = AF_INET;
		sa->sin_port = htons(addr.port);
		if (::inet_pton(AF_INET, addr.host.c_str(), &sa->sin_addr) != 1)
			return Error{EINVAL, "not a numeric IPv4 address"};
		len = sizeof(*sa);
	}
	const int one = 1;
	::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (::bind(fd.get(), reinterpret_cast<const sockaddr *>(&ss), len) != 0)
		return Error{errno, std::strerror(errno)};
	if (::listen(fd.get(), SOMAXCONN) != 0)
		return Error::from_errno(errno, "listen");
	listen_fd_ = std::move(fd);
	return {};
}

void HttpServer::accept_loop(const Handler &handler)
{
	while (!stopping_) {
		UniqueFd conn(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
		if (conn.valid()) {
			serve_connection(conn.get(), handler);
			continue;
		}
		if (stopping_ || errno == EBADF || errno == EINVAL || errno == ENOTSOCK)
			return;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			std::this_thread::sleep_for(std::chrono::milliseconds(50));  // no spin while out of fds
	}
}

void HttpServer::run(const Handler &handler)
{
	std::vector<std::thread> more;
	for (int i = 1; i < kThreads; i++)
		more.emplace_back([&] { accept_loop(handler); });
	accept_loop(handler);
	for (std::thread &t : more)
		t.join();
}

void HttpServer::stop()
{
	stopping_ = true;
	// Wakes every thread blocked in accept() on this socket (EINVAL).
	::shutdown(listen_fd_.get(), SHUT_RDWR);
}

}  // namespace listenq
