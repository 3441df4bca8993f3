// The HTTP server's pure parts (cli/http_server.h): framing and parsing
// request heads, Accept-Encoding, rendering response heads, chunks, gzip
// whole or a piece at a time. No sockets, so they are unit tested on
// strings and fuzzed (tests/fuzz/fuzz_http.cpp).
#include <zlib.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "cli/http_server.h"

namespace listenq {

namespace {

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

// Does a comma list of tokens (a Connection value) hold this one?
bool has_token(std::string_view list, std::string_view token)
{
	while (!list.empty()) {
		const std::size_t comma = list.find(',');
		if (iequals(trim(list.substr(0, comma)), token))
			return true;
		list = comma == std::string_view::npos ? "" : list.substr(comma + 1);
	}
	return false;
}

const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

}  // namespace

HeadFrame frame_http_head(std::string_view buf, std::size_t max_head)
{
	std::size_t start = 0;
	while (start < buf.size() && (buf[start] == '\r' || buf[start] == '\n'))
		start++;
	// The head ends at the first line feed followed by an empty line ("\n\n"
	// or "\n\r\n"). A terminator that ends past max_head is too late.
	for (std::size_t nl = buf.find('\n', start); nl != std::string_view::npos && nl < max_head;
	     nl = buf.find('\n', nl + 1)) {
		std::size_t end = nl + 1;
		if (end < buf.size() && buf[end] == '\r')
			end++;
		if (end < buf.size() && buf[end] == '\n') {
			if (end + 1 > max_head)
				break;
			return {HeadFrame::complete, buf.substr(start, nl - start), end + 1};
		}
	}
	return {buf.size() >= max_head ? HeadFrame::too_large : HeadFrame::incomplete, {}, 0};
}

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
	const bool http_1_0 = line.substr(sp2 + 1) == "HTTP/1.0";
	bool close = false, keep_alive = false, body = false;
	while (!rest.empty()) {
		const std::size_t nl = rest.find('\n');
		const std::string_view h = rest.substr(0, nl);
		rest = nl == std::string_view::npos ? "" : rest.substr(nl + 1);
		const std::size_t colon = h.find(':');
		if (colon == std::string_view::npos)
			continue;
		const std::string_view name = trim(h.substr(0, colon)), value = trim(h.substr(colon + 1));
		if (iequals(name, "accept-encoding")) {
			r.gzip = r.gzip || accepts_gzip(value);
		} else if (iequals(name, "connection")) {
			close = close || has_token(value, "close");
			keep_alive = keep_alive || has_token(value, "keep-alive");
		} else if (iequals(name, "transfer-encoding") || (iequals(name, "content-length") && value != "0")) {
			body = true;
		}
	}
	r.keep_alive = !body && !close && (!http_1_0 || keep_alive);
	r.http_1_0 = http_1_0;
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

namespace {

// Status line and headers. framing: "Content-Length: N", "Transfer-Encoding:
// chunked", or "" (the body ends with the connection).
std::string head_of(const HttpResponse &res, const std::string &framing, bool zipped, bool keep_alive)
{
	const bool text = res.content_type.rfind("text/", 0) == 0;
	std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reason_of(res.status) + "\r\n";
	out += "Content-Type: " + res.content_type + "\r\n";
	if (!framing.empty())
		out += framing + "\r\n";
	if (zipped)
		out += "Content-Encoding: gzip\r\n";
	if (text)
		out += "Vary: Accept-Encoding\r\n";
	if (res.status == 405)
		out += "Allow: GET, HEAD\r\n";
	// keep-alive is HTTP/1.1's default; it is said for HTTP/1.0 clients.
	out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
	return out;
}

}  // namespace

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
	std::string out = head_of(res, "Content-Length: " + std::to_string(body->size()), zipped, req.keep_alive);
	if (req.method == "HEAD")
		*body = {};
	return out;
}

std::string render_http_stream_head(const HttpRequest &req, const HttpResponse &res, bool gzip)
{
	if (req.http_1_0)
		return head_of(res, "", gzip, false);
	return head_of(res, "Transfer-Encoding: chunked", gzip, req.keep_alive);
}

void append_http_chunk_size(std::string &out, std::size_t size)
{
	char line[24];
	const int n = std::snprintf(line, sizeof(line), "%zx\r\n", size);
	out.append(line, static_cast<std::size_t>(n));
}

// zlib's allocations, counted: state_bytes() is what a gzipped stream
// costs beside its pieces.
struct GzipStream::State {
	z_stream zs{};
	bool ok = false;
	std::size_t bytes = 0;
	static voidpf alloc(voidpf opaque, uInt items, uInt size)
	{
		const std::size_t n = std::size_t{items} * size;
		auto *p = static_cast<std::size_t *>(std::malloc(n + sizeof(std::size_t)));
		if (!p)
			return Z_NULL;
		*p = n;
		static_cast<State *>(opaque)->bytes += n;
		return p + 1;
	}
	static void free(voidpf opaque, voidpf address)
	{
		auto *p = static_cast<std::size_t *>(address) - 1;
		static_cast<State *>(opaque)->bytes -= *p;
		std::free(p);
	}
};

GzipStream::GzipStream() : st_(std::make_unique<State>())
{
	st_->zs.zalloc = State::alloc;
	st_->zs.zfree = State::free;
	st_->zs.opaque = st_.get();
	// windowBits 15 + 16: a gzip header and trailer instead of zlib's.
	st_->ok = deflateInit2(&st_->zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
}

GzipStream::~GzipStream()
{
	if (st_->ok)
		deflateEnd(&st_->zs);
}

bool GzipStream::ok() const { return st_->ok; }

std::size_t GzipStream::state_bytes() const { return st_->bytes; }

Result<void> GzipStream::write(std::string_view data, bool finish, std::string &out)
{
	if (!st_->ok)
		return Error{ENOMEM, "gzip: deflateInit2 failed"};
	if (data.size() > UINT_MAX)
		return Error{EFBIG, "gzip: piece over 4 GiB"};
	z_stream &zs = st_->zs;
	zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
	zs.avail_in = static_cast<uInt>(data.size());
	// Until deflate leaves room in what it was given (it took all the
	// input), and with finish until the end of the stream.
	const std::size_t step = data.size() / 4 + 4096;
	for (;;) {
		const std::size_t had = out.size();
		out.resize(had + step);
		zs.next_out = reinterpret_cast<Bytef *>(out.data() + had);
		zs.avail_out = static_cast<uInt>(step);
		const int rc = deflate(&zs, finish ? Z_FINISH : Z_NO_FLUSH);
		out.resize(had + step - zs.avail_out);
		if (rc == Z_STREAM_ERROR)
			return Error{EIO, "gzip: deflate returned " + std::to_string(rc)};
		if (finish ? rc == Z_STREAM_END : zs.avail_out != 0)
			return {};
	}
}

std::string render_http_response(const HttpRequest &req, const HttpResponse &res)
{
	std::string_view body;
	std::string gzipped;
	std::string out = render_http_head(req, res, &body, &gzipped);
	out += body;
	return out;
}

}  // namespace listenq
