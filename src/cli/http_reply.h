// The HTTP server's replies (cli/http_server.h): a response on its way
// out, its bytes in order, and the workers that run the handler and make
// the replies the event loop sends. Internal to the server. Reply touches
// no socket, so it is unit tested on strings
// (tests/unit/http_stream_test.cpp).
#pragma once

#include <sys/uio.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/http_server.h"

namespace listenq {

// A body given whole is sent from where it is, never copied (gzipped whole
// when the client accepts gzip). A streamed one (HttpResponse::stream) is
// made a piece at a time into the reply's own buffer, framed as a chunk,
// and gzipped piece by piece: the reply holds one piece, however large the
// body. One thread at a time: a worker makes it (and its first piece),
// then the event loop sends it and makes the rest.
class Reply {
public:
	Reply(const HttpRequest &req, HttpResponse res, std::size_t piece_bytes);
	Reply(const Reply &) = delete;
	Reply &operator=(const Reply &) = delete;

	// The bytes made and not sent yet, as up to three spans: how many.
	int spans(iovec (&iov)[3]) const;
	void sent(std::size_t n);
	// More of a streamed body is to be made (make_piece(), once spans()
	// has nothing left).
	bool more() const { return stream_ != nullptr; }
	// Renders the next piece, frames it (gzips it). An error (gzip) leaves
	// the body unfinished: the connection must close, and the client sees
	// it cut short.
	Result<void> make_piece();
	bool complete() const { return !more() && spans_left() == 0; }
	// make_piece() failed: the body will end short of its end.
	bool cut_short() const { return cut_short_; }
	// What the head said: another request may follow on the connection.
	bool keep_alive() const { return keep_alive_; }
	// Bytes the reply holds of its own: its buffers' capacity (a whole
	// body's gzip included) and zlib's state; not a body given whole (the
	// handler's, shared).
	std::size_t buffered() const;

private:
	std::size_t spans_left() const;

	HttpResponse res_;
	std::string head_;
	std::string gzipped_;    // a whole body, gzipped
	std::string_view body_;  // a whole body: res_'s, or gzipped_
	std::size_t sent_ = 0;   // of head_, then of body_
	// A streamed body.
	bool streamed_ = false;
	bool cut_short_ = false;
	std::unique_ptr<BodyStream> stream_;  // until its last piece is made
	std::unique_ptr<GzipStream> gzip_;
	std::size_t piece_bytes_ = 0;
	bool chunked_ = false;  // else (HTTP/1.0) the body ends with the connection
	// What is sent of it: prefix_ (the head before the first piece, and a
	// chunk's size line), the piece (piece_, or zipped_), suffix_ (the
	// chunk's CRLF, and after the last piece the last chunk).
	std::string prefix_, suffix_;
	std::string piece_, zipped_;
	std::string_view data_;
	std::size_t out_sent_ = 0;
	bool keep_alive_ = false;
};

// A reply as a worker hands it to the loop: its head made, and a streamed
// body's first piece, so that the loop starts by sending.
std::unique_ptr<Reply> make_reply(const HttpRequest &req, HttpResponse res, std::size_t piece_bytes);

// Wakes an event loop through its eventfd.
void wake(int eventfd);

// The threads that run the handler on complete requests, and make the
// replies (the head, the first piece, a whole body's gzip), off the loop.
class WorkerPool {
public:
	struct Done {
		std::uint64_t conn;
		std::unique_ptr<Reply> reply;
	};

	// Each finished reply wakes wake_fd.
	WorkerPool(int threads, const HttpServer::Handler &handler, int wake_fd, std::size_t piece_bytes);
	// Waits for the handler calls in progress; queued requests are dropped.
	~WorkerPool();
	void submit(std::uint64_t conn, HttpRequest req);
	std::vector<Done> take_done();

private:
	struct Job {
		std::uint64_t conn;
		HttpRequest req;
	};
	void work();

	const HttpServer::Handler &handler_;
	const int wake_fd_;
	const std::size_t piece_bytes_;
	std::mutex m_;
	std::condition_variable cv_;
	std::deque<Job> jobs_;
	std::vector<Done> done_;
	bool closed_ = false;
	std::vector<std::thread> threads_;  // last: started once the rest exists
};

}  // namespace listenq
