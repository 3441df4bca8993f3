// The export's HTTP server over a real socket, for the tests: the server on
// 127.0.0.1 and a free port, and a blocking client that reads whole
// responses (Content-Length, chunked, or to the close), slowly if asked.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "../common/http_chunks.h"
#include "cli/http_server.h"

namespace listenq::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0)
{
	return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The server on 127.0.0.1 and a free port, running on its own thread.
class TestServer {
public:
	explicit TestServer(HttpServer::Handler handler, const HttpLimits &limits = {})
		: server_(limits), handler_(std::move(handler))
	{
		if (auto b = server_.bind({"127.0.0.1", 0, AF_INET}); !b)
			ADD_FAILURE() << "bind 127.0.0.1:0: " << b.error().message;
		port_ = server_.port();
		thread_ = std::thread([this] { server_.run(handler_); });
	}
	~TestServer() { stop(); }
	std::uint16_t port() const { return port_; }
	const HttpServer &server() const { return server_; }
	// stop() from this thread; the seconds until run() returned.
	double stop()
	{
		const auto t0 = Clock::now();
		server_.stop();
		if (thread_.joinable())
			thread_.join();
		return seconds_since(t0);
	}

private:
	HttpServer server_;
	HttpServer::Handler handler_;
	std::uint16_t port_ = 0;
	std::thread thread_;
};

struct Response {
	int status = 0;  // 0: none came (closed, reset or timed out)
	std::string head, body;
	std::size_t chunks = 0;  // a chunked body's
	std::string header(const std::string &name) const
	{
		const std::size_t at = head.find("\r\n" + name + ": ");
		if (at == std::string::npos)
			return "";
		const std::size_t from = at + name.size() + 4;
		return head.substr(from, head.find("\r\n", from) - from);
	}
};

// A blocking client socket. send() may run on another thread than the reads.
class Client {
public:
	explicit Client(std::uint16_t port, int rcvbuf = 0) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0))
	{
		if (rcvbuf)  // fixed, not autotuned: what the kernel holds for a client that stops reading
			::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		sockaddr_in sa{};
		sa.sin_family = AF_INET;
		sa.sin_port = htons(port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (::connect(fd_.get(), reinterpret_cast<const sockaddr *>(&sa), sizeof(sa)) != 0)
			ADD_FAILURE() << "connect 127.0.0.1:" << port << ": " << std::strerror(errno);
	}
	// Errors are the reads' to see (the server may have closed).
	void send(std::string_view s) const
	{
		while (!s.empty()) {
			const ssize_t n = ::send(fd_.get(), s.data(), s.size(), MSG_NOSIGNAL);
			if (n <= 0)
				return;
			s.remove_prefix(static_cast<std::size_t>(n));
		}
	}
	// One response within the time given: its head, and unless it answers
	// a HEAD its body: Content-Length bytes, a chunked body (put together;
	// chunks counts its chunks), or without either what comes until the
	// server closes.
	Response response(std::chrono::milliseconds within = 5000ms, bool to_head = false)
	{
		const auto deadline = Clock::now() + within;
		std::size_t end;
		while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
			if (!fill(deadline))
				return {};
		Response r;
		r.head = buf_.substr(0, end + 2);
		r.status = std::atoi(r.head.c_str() + std::strlen("HTTP/1.1 "));
		buf_.erase(0, end + 4);
		if (to_head)
			return r;
		if (r.header("Transfer-Encoding") == "chunked") {
			std::optional<std::size_t> len;
			// Each read walks the chunk sizes only, from the start.
			while (!(len = walk_chunks(buf_, [](std::string_view) {})))
				if (!fill(deadline))
					return {};
			auto body = dechunk(std::string_view(buf_).substr(0, *len), &r.chunks);
			if (!body)
				return {};
			r.body = std::move(*body);
			buf_.erase(0, *len);
			return r;
		}
		if (r.header("Content-Length").empty()) {
			while (fill(deadline)) {
			}
			if (timed_out_)
				return {};
			r.body = std::exchange(buf_, {});
			return r;
		}
		const std::size_t len = std::strtoul(r.header("Content-Length").c_str(), nullptr, 10);
		while (buf_.size() < len)
			if (!fill(deadline))
				return {};
		r.body = buf_.substr(0, len);
		buf_.erase(0, len);
		return r;
	}
	// Reads at most this many bytes at a time, and waits this long before
	// each read: a slow scraper.
	void pace(std::size_t bytes, std::chrono::milliseconds pause)
	{
		pace_bytes_ = bytes;
		pause_ = pause;
	}
	// Did the server end the connection (EOF or reset) within the time
	// given? What it sends before is counted in *bytes, and dropped.
	bool closed_within(std::chrono::milliseconds within, std::size_t *bytes = nullptr)
	{
		const auto deadline = Clock::now() + within;
		for (;;) {
			std::size_t had = buf_.size();
			const bool more = fill(deadline);
			if (bytes)
				*bytes += buf_.size() - had;
			buf_.clear();
			if (!more)
				return !timed_out_;
		}
	}

private:
	// One read, waiting until the deadline. false on EOF, error or timeout.
	bool fill(Clock::time_point deadline)
	{
		timed_out_ = false;
		for (;;) {
			const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
			pollfd p{fd_.get(), POLLIN, 0};
			const int ready = left > 0 ? ::poll(&p, 1, static_cast<int>(left)) : 0;
			if (ready < 0 && errno == EINTR)
				continue;
			if (ready <= 0) {
				timed_out_ = true;
				return false;
			}
			char b[65536];
			if (pause_.count())
				std::this_thread::sleep_for(pause_);
			const ssize_t n = ::recv(fd_.get(), b, std::min(sizeof(b), pace_bytes_), 0);
			if (n <= 0)
				return false;
			buf_.append(b, static_cast<std::size_t>(n));
			return true;
		}
	}

	UniqueFd fd_;
	std::string buf_;
	bool timed_out_ = false;
	std::size_t pace_bytes_ = SIZE_MAX;
	std::chrono::milliseconds pause_{0};
};

}  // namespace listenq::testing
