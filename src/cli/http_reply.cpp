// The HTTP server's replies and workers (cli/http_reply.h).
#include "cli/http_reply.h"

#include <unistd.h>

#include <algorithm>

namespace listenq {

Reply::Reply(const HttpRequest &req, HttpResponse res, std::size_t piece_bytes)
	: res_(std::move(res)), piece_bytes_(piece_bytes), keep_alive_(req.keep_alive)
{
	if (!res_.stream) {
		head_ = render_http_head(req, res_, &body_, &gzipped_);
		return;
	}
	streamed_ = true;
	if (res_.content_type.rfind("text/", 0) == 0 && req.gzip) {
		gzip_ = std::make_unique<GzipStream>();
		if (!gzip_->ok())
			gzip_.reset();  // then sent as it is, and the head says so
	}
	chunked_ = !req.http_1_0;
	keep_alive_ = chunked_ && req.keep_alive;
	prefix_ = render_http_stream_head(req, res_, gzip_ != nullptr);
	if (req.method == "HEAD") {
		gzip_.reset();
		res_.stream.reset();
		return;
	}
	stream_ = std::move(res_.stream);
}

int Reply::spans(iovec (&iov)[3]) const
{
	int n = 0;
	if (streamed_) {
		std::size_t skip = out_sent_;
		for (std::string_view part : {std::string_view(prefix_), data_, std::string_view(suffix_)}) {
			if (skip < part.size())
				iov[n++] = {const_cast<char *>(part.data()) + skip, part.size() - skip};
			skip -= std::min(skip, part.size());
		}
		return n;
	}
	if (sent_ < head_.size())
		iov[n++] = {const_cast<char *>(head_.data()) + sent_, head_.size() - sent_};
	const std::size_t off = sent_ > head_.size() ? sent_ - head_.size() : 0;
	if (off < body_.size())
		iov[n++] = {const_cast<char *>(body_.data()) + off, body_.size() - off};
	return n;
}

void Reply::sent(std::size_t n)
{
	if (streamed_)
		out_sent_ += n;
	else
		sent_ += n;
}

std::size_t Reply::spans_left() const
{
	return streamed_ ? prefix_.size() + data_.size() + suffix_.size() - out_sent_ : head_.size() + body_.size() - sent_;
}

Result<void> Reply::make_piece()
{
	// All was sent: but for the head, before the first piece.
	if (out_sent_)
		prefix_.clear();
	suffix_.clear();
	data_ = {};
	out_sent_ = 0;
	piece_.clear();
	const bool more = stream_->next(piece_, piece_bytes_);
	data_ = piece_;
	if (gzip_) {
		zipped_.clear();
		if (auto r = gzip_->write(piece_, !more, zipped_); !r) {
			data_ = {};
			stream_.reset();
			gzip_.reset();
			cut_short_ = true;
			return r.error();
		}
		data_ = zipped_;  // deflate may keep a piece back: then nothing now
	}
	if (chunked_ && !data_.empty()) {
		append_http_chunk_size(prefix_, data_.size());
		suffix_ = kHttpChunkEnd;
	}
	if (!more) {
		if (chunked_)
			suffix_ += kHttpLastChunk;
		stream_.reset();
		gzip_.reset();  // zlib's state goes now, not with the connection
	}
	return {};
}

std::size_t Reply::buffered() const
{
	return head_.capacity() + gzipped_.capacity() + prefix_.capacity() + suffix_.capacity() + piece_.capacity() +
	       zipped_.capacity() + (gzip_ ? gzip_->state_bytes() : 0);
}

std::unique_ptr<Reply> make_reply(const HttpRequest &req, HttpResponse res, std::size_t piece_bytes)
{
	auto r = std::make_unique<Reply>(req, std::move(res), piece_bytes);
	if (r->more())
		(void)r->make_piece();  // an error cuts the body short (Reply::cut_short)
	return r;
}

void wake(int eventfd)
{
	const std::uint64_t one = 1;
	(void)!::write(eventfd, &one, sizeof(one));
}

WorkerPool::WorkerPool(int threads, const HttpServer::Handler &handler, int wake_fd, std::size_t piece_bytes)
	: handler_(handler), wake_fd_(wake_fd), piece_bytes_(piece_bytes)
{
	for (int i = 0; i < std::max(threads, 1); i++)
		threads_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool()
{
	{
		std::lock_guard lock(m_);
		closed_ = true;
	}
	cv_.notify_all();
	for (std::thread &t : threads_)
		t.join();
}

void WorkerPool::submit(std::uint64_t conn, HttpRequest req)
{
	{
		std::lock_guard lock(m_);
		jobs_.push_back({conn, std::move(req)});
	}
	cv_.notify_one();
}

std::vector<WorkerPool::Done> WorkerPool::take_done()
{
	std::lock_guard lock(m_);
	return std::exchange(done_, {});
}

void WorkerPool::work()
{
	for (;;) {
		Job job;
		{
			std::unique_lock lock(m_);
			cv_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
			if (closed_)
				return;
			job = std::move(jobs_.front());
			jobs_.pop_front();
		}
		auto reply = make_reply(job.req, handler_(job.req), piece_bytes_);
		{
			std::lock_guard lock(m_);
			done_.push_back({job.conn, std::move(reply)});
		}
		wake(wake_fd_);
	}
}

}  // namespace listenq
