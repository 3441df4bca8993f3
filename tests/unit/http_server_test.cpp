// The export's HTTP server, its pure parts: framing and parsing request
// heads, keep-alive, Accept-Encoding, responses, gzip. (http_socket_test.cpp
// drives the server over a socket; tests/integration/ecosystem_test.cpp
// scrapes it with cpp-httplib's client and with Debian's Prometheus.)
#include <gtest/gtest.h>

#include "../common/gunzip.h"
#include "cli/http_server.h"

using namespace listenq;

namespace {

std::string gunzip(const std::string &z) { return listenq::testing::gunzip(z).value_or("gunzip failed"); }

// The headers of a Prometheus 2.x scrape (Debian 12 has 2.42).
TEST(HttpServer, ParsesAPrometheusScrape)
{
	auto r = parse_http_request("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9464\r\nUser-Agent: Prometheus/2.42.0\r\n"
				    "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
				    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
				    "Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n");
	ASSERT_TRUE(r);
	EXPECT_EQ(r->method, "GET");
	EXPECT_EQ(r->path, "/metrics");
	EXPECT_TRUE(r->gzip);
}

TEST(HttpServer, QueryStringIsNotPartOfThePath)
{
	auto r = parse_http_request("HEAD /metrics?x=1 HTTP/1.0\naccept-encoding: identity\n");
	ASSERT_TRUE(r);
	EXPECT_EQ(r->method, "HEAD");
	EXPECT_EQ(r->path, "/metrics");
	EXPECT_FALSE(r->gzip);
}

TEST(HttpServer, MalformedRequestLinesAreRejected)
{
	for (const char *bad : {"", "GET", "GET /metrics", "GET  /metrics HTTP/1.1", "GET metrics HTTP/1.1",
				"GET /metrics HTTP/2", "GET /metrics HTTP/1.1 extra", " /metrics HTTP/1.1"})
		EXPECT_FALSE(parse_http_request(bad)) << '"' << bad << '"';
}

TEST(HttpServer, HeadEndsAtTheFirstBlankLine)
{
	const std::string two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
	HeadFrame f = frame_http_head(two, 8192);
	ASSERT_EQ(f.status, HeadFrame::complete);
	EXPECT_EQ(f.head, "GET /a HTTP/1.1\r\nHost: x\r");
	EXPECT_EQ(two.substr(f.consumed), "GET /b HTTP/1.1\r\n\r\n");  // pipelined: left for later
	f = frame_http_head("\r\n\nGET / HTTP/1.0\n\n", 8192);  // empty lines before it are skipped
	ASSERT_EQ(f.status, HeadFrame::complete);
	EXPECT_EQ(f.head, "GET / HTTP/1.0");
	EXPECT_EQ(f.consumed, 19u);
	for (const char *part : {"", "GET /met", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\n\r", "\r\n\r\n"})
		EXPECT_EQ(frame_http_head(part, 8192).status, HeadFrame::incomplete) << '"' << part << '"';
}

TEST(HttpServer, HeadMustFitTheLimitWithItsBlankLine)
{
	const std::string fits = "GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n";
	EXPECT_EQ(frame_http_head(fits, fits.size()).status, HeadFrame::complete);
	EXPECT_EQ(frame_http_head(fits, fits.size() - 1).status, HeadFrame::too_large);
	// No terminator in max_head bytes: more bytes cannot help.
	EXPECT_EQ(frame_http_head(std::string(64, 'a'), 64).status, HeadFrame::too_large);
	EXPECT_EQ(frame_http_head(std::string(63, 'a'), 64).status, HeadFrame::incomplete);
}

TEST(HttpServer, KeepAliveFollowsTheVersionAndConnection)
{
	auto keep = [](const char *head) { return parse_http_request(head).value().keep_alive; };
	EXPECT_TRUE(keep("GET / HTTP/1.1\r\nHost: x\r\n"));
	EXPECT_FALSE(keep("GET / HTTP/1.1\r\nConnection: close\r\n"));
	EXPECT_FALSE(keep("GET / HTTP/1.1\r\nconnection: TE, Close\r\n"));
	EXPECT_FALSE(keep("GET / HTTP/1.0\r\n"));
	EXPECT_TRUE(keep("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n"));
	// A body is never read, so the next head could not be found.
	EXPECT_FALSE(keep("GET / HTTP/1.1\r\nContent-Length: 5\r\n"));
	EXPECT_FALSE(keep("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"));
	EXPECT_TRUE(keep("GET / HTTP/1.1\r\nContent-Length: 0\r\n"));
	HttpRequest get{"GET", "/metrics", false, true};
	EXPECT_NE(render_http_response(get, {200, "text/plain", "a\n"}).find("\r\nConnection: keep-alive\r\n\r\n"),
		  std::string::npos);
}

TEST(HttpServer, AcceptEncoding)
{
	for (const char *yes : {"gzip", "GZIP", "deflate, gzip;q=1.0", "br;q=1.0, gzip;q=0.8, *;q=0.1", "*", "x-gzip"})
		EXPECT_TRUE(accepts_gzip(yes)) << yes;
	for (const char *no : {"", "identity", "deflate, br", "gzip;q=0", "gzip; q=0.000", "*;q=0", "gzip;q=0, *"})
		EXPECT_FALSE(accepts_gzip(no)) << no;
}

TEST(HttpServer, ResponseHasLengthTypeAndClose)
{
	HttpRequest get{"GET", "/metrics", false};
	const std::string r = render_http_response(get, {200, "text/plain; version=0.0.4", "a 1\n"});
	EXPECT_EQ(r, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 4\r\n"
		     "Vary: Accept-Encoding\r\nConnection: close\r\n\r\na 1\n");
	HttpRequest head{"HEAD", "/metrics", false};
	EXPECT_EQ(render_http_response(head, {404, "text/plain", "none\n"}),
		  "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
		  "Vary: Accept-Encoding\r\nConnection: close\r\n\r\n");
	EXPECT_NE(render_http_response({}, {405, "text/plain", ""}).find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
}

TEST(HttpServer, TextIsGzippedWhenAccepted)
{
	std::string body;
	for (int i = 0; i < 2000; i++)
		body += "listenq_listen_backlog{port=\"" + std::to_string(i) + "\"} 4096\n";
	HttpRequest req{"GET", "/metrics", true};
	const std::string r = render_http_response(req, {200, "text/plain", body});
	const std::size_t end = r.find("\r\n\r\n");
	ASSERT_NE(end, std::string::npos);
	const std::string head = r.substr(0, end), z = r.substr(end + 4);
	EXPECT_NE(head.find("\r\nContent-Encoding: gzip"), std::string::npos);
	EXPECT_NE(head.find("\r\nContent-Length: " + std::to_string(z.size()) + "\r\n"), std::string::npos);
	EXPECT_LT(z.size(), body.size() / 5);
	EXPECT_EQ(gunzip(z), body);
}

}  // namespace
