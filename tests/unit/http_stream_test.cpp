// export's /metrics streamed over HTTP (cli/http_reply.h, cli/http_server.h):
// the chunked framing, and the gzip made a piece at a time, undo to the
// body rendered whole; a slow reader gets all of it and holds no worker;
// and what a response holds stays one piece, however large the body.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <memory>

#include "../common/gunzip.h"
#include "../common/http_chunks.h"
#include "cli/http_reply.h"
#include "http_test_client.h"
#include "prom_fixture.h"
#include "render/prom_render.h"

using namespace listenq;
using namespace listenq::testing;

namespace {

constexpr std::size_t kPiece = 64 * 1024;  // the server's default piece

// What a reply holds of its own, however large the body: one piece
// (piece_bytes and room for a row: 16 KiB) and its framing, plain; with
// gzip, the piece's gzip (under a piece) and zlib's state besides.
constexpr std::size_t kPlainBound = kPiece + 20 * 1024;
constexpr std::size_t kZlibState = 320 * 1024;
constexpr std::size_t kGzipBound = kPlainBound + kPiece + kZlibState;

// A fixture's exposition as a response body, as the exporter streams it.
class ExpositionStream : public BodyStream {
public:
	explicit ExpositionStream(std::shared_ptr<const PromExposition> e, std::atomic<int> *calls = nullptr)
		: body_(std::move(e)), calls_(calls) {}
	bool next(std::string &out, std::size_t max_bytes) override
	{
		if (calls_)
			++*calls_;
		return body_.next(out, max_bytes);
	}

private:
	PromBody body_;
	std::atomic<int> *calls_;
};

// Exposition-like lines up to `bytes`: a body larger than any socket
// buffer, made without keeping it.
class Lines : public BodyStream {
public:
	explicit Lines(std::size_t bytes) : left_(bytes) {}
	bool next(std::string &out, std::size_t max_bytes) override
	{
		for (std::size_t n = 0; left_ && n < max_bytes; i_++) {
			std::string line = "listenq_listen_backlog{port=\"" + std::to_string(i_ % 65536) + "\"} " +
					   std::to_string(i_) + "\n";
			line.resize(std::min(line.size(), left_));
			out += line, n += line.size(), left_ -= line.size();
		}
		return left_ != 0;
	}
	static std::string whole(std::size_t bytes)
	{
		Lines l(bytes);
		std::string s;
		while (l.next(s, SIZE_MAX)) {
		}
		return s;
	}

private:
	std::size_t left_, i_ = 0;
};

HttpRequest get(bool gzip, bool http_1_0 = false)
{
	HttpRequest r{"GET", "/metrics", gzip, !http_1_0};
	r.http_1_0 = http_1_0;
	return r;
}

// What a reply sends, sent as the loop sends it, and the most it held.
struct Sent {
	std::string head, body;
	std::size_t peak = 0;
	int pieces = 0;  // made after the first (make_reply makes that)
};

Sent drain(Reply &r)
{
	Sent s;
	std::string all;
	for (;;) {
		s.peak = std::max(s.peak, r.buffered());
		iovec iov[3];
		const int n = r.spans(iov);
		if (n == 0) {
			if (!r.more())
				break;
			EXPECT_TRUE(r.make_piece());
			s.pieces++;
			continue;
		}
		std::size_t bytes = 0;
		for (int i = 0; i < n; i++)
			all.append(static_cast<const char *>(iov[i].iov_base), iov[i].iov_len), bytes += iov[i].iov_len;
		r.sent(bytes);
	}
	EXPECT_TRUE(r.complete());
	const std::size_t end = all.find("\r\n\r\n");
	EXPECT_NE(end, std::string::npos);
	s.head = all.substr(0, end + 2);
	s.body = all.substr(end + 4);
	return s;
}

bool has(const std::string &head, const std::string &line) { return head.find("\r\n" + line + "\r\n") != std::string::npos; }

// Pieces of any size, empty ones too, gzip to one stream of the whole.
TEST(HttpStream, GzipPiecesMakeOneGzipStream)
{
	const std::string data = Lines::whole(1u << 20);
	GzipStream z;
	ASSERT_TRUE(z.ok());
	std::string out;
	std::size_t at = 0;
	for (std::size_t n : {0u, 1u, 7u, 65536u, 0u, 300000u, 12345u}) {
		ASSERT_TRUE(z.write(std::string_view(data).substr(at, n), false, out));
		at += n;
	}
	std::cout << "[ measured ] zlib's state: " << z.state_bytes() << " bytes\n";
	EXPECT_GT(z.state_bytes(), 0u);
	EXPECT_LE(z.state_bytes(), kZlibState);
	ASSERT_TRUE(z.write(std::string_view(data).substr(at), true, out));
	EXPECT_EQ(gunzip(out).value_or(""), data);
	EXPECT_EQ(out, *gzip_compress(data)) << "the same stream as gzip_compress, byte for byte";
	std::string chunk;
	append_http_chunk_size(chunk, 0x1f2e);
	EXPECT_EQ(chunk, "1f2e\r\n");
}

// Chunked framing undone is the body rendered whole, for every fixture.
TEST(HttpStream, ChunkedBodyIsTheBodyRenderedWhole)
{
	for (const auto &[name, s] : fixture_bodies()) {
		const std::string whole = render_prometheus(s);
		const auto e = std::make_shared<const PromExposition>(s);
		auto r = make_reply(get(false), {200, "text/plain", std::make_unique<ExpositionStream>(e)}, kPiece);
		ASSERT_TRUE(r->keep_alive());
		const Sent sent = drain(*r);
		EXPECT_TRUE(has(sent.head, "Transfer-Encoding: chunked")) << sent.head;
		EXPECT_EQ(sent.head.find("Content-Length"), std::string::npos) << sent.head;
		EXPECT_EQ(sent.head.find("Content-Encoding"), std::string::npos) << sent.head;
		std::size_t chunks = 0;
		const auto body = dechunk(sent.body, &chunks);
		ASSERT_TRUE(body) << name << ": not one chunked body";
		EXPECT_EQ(body->size(), whole.size()) << name;
		EXPECT_TRUE(*body == whole) << name;
		// A chunk per piece: kPiece, or up to a row more.
		EXPECT_LE(chunks, whole.size() / kPiece + 1) << name;
		EXPECT_GE(chunks, whole.size() / (kPiece + 16384)) << name;
	}
}

// gzip made a piece at a time inflates to the body rendered whole.
TEST(HttpStream, GzipStreamInflatesToTheBodyRenderedWhole)
{
	for (const auto &[name, s] : fixture_bodies()) {
		const std::string whole = render_prometheus(s);
		const auto e = std::make_shared<const PromExposition>(s);
		auto r = make_reply(get(true), {200, "text/plain", std::make_unique<ExpositionStream>(e)}, kPiece);
		const Sent sent = drain(*r);
		EXPECT_TRUE(has(sent.head, "Transfer-Encoding: chunked")) << sent.head;
		EXPECT_TRUE(has(sent.head, "Content-Encoding: gzip")) << sent.head;
		const auto z = dechunk(sent.body);
		ASSERT_TRUE(z) << name << ": not one chunked body";
		const auto body = gunzip(*z);
		ASSERT_TRUE(body) << name << ": not one gzip stream";
		EXPECT_TRUE(*body == whole) << name;
		EXPECT_LT(z->size(), whole.size() / 5) << name;
		std::cout << "[ measured ] " << name << ": " << whole.size() << " bytes, gzipped per piece " << z->size()
			  << ", whole " << gzip_compress(whole)->size() << "\n";
	}
}

// HTTP/1.0 has no chunked coding: the body runs to the close.
TEST(HttpStream, Http10GetsTheBodyUntilTheClose)
{
	const auto [name, s] = fixture_bodies()[3];
	const std::string whole = render_prometheus(s);
	const auto e = std::make_shared<const PromExposition>(s);
	for (bool gzip : {false, true}) {
		auto r = make_reply(get(gzip, true), {200, "text/plain", std::make_unique<ExpositionStream>(e)}, kPiece);
		EXPECT_FALSE(r->keep_alive());
		const Sent sent = drain(*r);
		EXPECT_TRUE(has(sent.head, "Connection: close")) << sent.head;
		EXPECT_EQ(sent.head.find("Transfer-Encoding"), std::string::npos) << sent.head;
		EXPECT_EQ(sent.head.find("Content-Length"), std::string::npos) << sent.head;
		EXPECT_TRUE((gzip ? gunzip(sent.body).value_or("") : sent.body) == whole) << gzip;
	}
}

// HEAD: the head GET would get, and no piece made.
TEST(HttpStream, HeadMakesNoPiece)
{
	std::atomic<int> calls{0};
	const auto e = std::make_shared<const PromExposition>(fixture_bodies()[3].second);
	HttpRequest head = get(true);
	head.method = "HEAD";
	auto r = make_reply(head, {200, "text/plain", std::make_unique<ExpositionStream>(e, &calls)}, kPiece);
	const Sent sent = drain(*r);
	EXPECT_TRUE(has(sent.head, "Transfer-Encoding: chunked")) << sent.head;
	EXPECT_TRUE(has(sent.head, "Content-Encoding: gzip")) << sent.head;
	EXPECT_TRUE(sent.body.empty());
	EXPECT_EQ(calls, 0);
}

// 32 MiB of body through 64 KiB pieces: a piece is made only once the
// previous one has gone, and no more is held at the end than after the
// first.
TEST(HttpStream, AReplyHoldsOnePieceHoweverLargeTheBody)
{
	constexpr std::size_t kBody = 32u << 20;
	for (bool gzip : {false, true}) {
		auto r = make_reply(get(gzip), {200, "text/plain", std::make_unique<Lines>(kBody)}, kPiece);
		const std::size_t first = r->buffered();
		const Sent sent = drain(*r);
		const auto z = dechunk(sent.body);
		ASSERT_TRUE(z);
		EXPECT_EQ(gzip ? gunzip(*z).value_or("").size() : z->size(), kBody);
		EXPECT_GE(sent.pieces, static_cast<int>(kBody / kPiece) - 1);
		std::cout << "[ measured ] " << (gzip ? "gzip" : "plain") << ": " << kBody << " bytes in " << sent.pieces + 1
			  << " pieces; the reply held " << first << " bytes after the first, at most " << sent.peak << "\n";
		EXPECT_LE(sent.peak, gzip ? kGzipBound : kPlainBound);
		EXPECT_LE(sent.peak, first + (gzip ? kPiece : 0)) << "it did not grow with the body";
	}
}

// Over a socket, as the exporter serves it: keep-alive across streamed
// bodies (the chunks delimit each), gzip or not.
TEST(HttpStream, StreamedScrapesOverASocket)
{
	const auto [name, s] = fixture_bodies()[0];  // full per listener: 14 MB
	const std::string whole = render_prometheus(s);
	const auto e = std::make_shared<const PromExposition>(s);
	TestServer server([&](const HttpRequest &) -> HttpResponse {
		return {200, "text/plain; version=0.0.4", std::make_unique<ExpositionStream>(e)};
	});
	Client c(server.port());
	for (const char *accept : {"", "Accept-Encoding: gzip\r\n", ""}) {
		c.send(std::string("GET /metrics HTTP/1.1\r\n") + accept + "\r\n");
		const Response r = c.response(10000ms);
		ASSERT_EQ(r.status, 200) << accept;
		EXPECT_EQ(r.header("Connection"), "keep-alive");
		EXPECT_TRUE((*accept ? gunzip(r.body).value_or("") : r.body) == whole) << accept;
	}
	std::cout << "[ measured ] the most a streamed reply held: " << server.server().peak_reply_bytes() << " bytes\n";
	EXPECT_LE(server.server().peak_reply_bytes(), kGzipBound);
}

// A client that reads 16 KiB every 20 ms (about 0.8 MB/s; its receive
// buffer fixed at 64 KiB) gets the whole body, while with one worker a
// scrape on another connection is answered meanwhile: the slow one holds
// no worker, only its piece.
TEST(HttpStream, ASlowReaderGetsTheWholeBodyAndHoldsNoWorker)
{
	const std::string whole = Lines::whole(2u << 20);
	HttpLimits limits;
	limits.workers = 1;
	TestServer server([&](const HttpRequest &) -> HttpResponse {
		return {200, "text/plain", std::make_unique<Lines>(whole.size())};
	},
			  limits);
	Client slow(server.port(), 65536);
	slow.pace(16384, 20ms);
	const auto t0 = Clock::now();
	slow.send("GET /metrics HTTP/1.1\r\n\r\n");
	Response got;
	std::thread reader([&] { got = slow.response(60000ms); });
	std::this_thread::sleep_for(300ms);  // the slow one is well into its body
	const auto t1 = Clock::now();
	Client fast(server.port());
	fast.send("GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
	const Response r = fast.response(10000ms);
	const double fast_s = seconds_since(t1);
	reader.join();
	const double slow_s = seconds_since(t0);
	std::cout << "[ measured ] a 2 MiB body read 16 KiB / 20 ms took " << slow_s << " s; a scrape meanwhile "
		  << fast_s * 1000 << " ms; the most a reply held: " << server.server().peak_reply_bytes() << " bytes\n";
	EXPECT_EQ(r.status, 200);
	EXPECT_TRUE(r.body == whole);
	ASSERT_EQ(got.status, 200);
	EXPECT_TRUE(got.body == whole);
	EXPECT_GT(slow_s, fast_s + 0.3) << "the fast scrape was answered while the slow one read";
	EXPECT_LE(server.server().peak_reply_bytes(), kPlainBound);
}

}  // namespace
