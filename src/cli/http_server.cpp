// The HTTP server's sockets (cli/http_server.h): one epoll loop for every
// connection's reading and writing; the workers and the replies they make
// are cli/http_reply.h.
#include "cli/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "cli/http_reply.h"

namespace listenq {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kListenId = 0, kWakeId = 1;  // epoll ids that are no connection
constexpr int kAcceptsPerTurn = 64;                  // then the loop serves the others
// Out of fds: the listening socket stays readable, so accept is paused
// rather than retried in a spin.
constexpr std::chrono::milliseconds kAcceptPause{100};
// After the last response the server shuts its side and reads until the
// client closes, this long at most: closing with unread bytes would send
// a RST, which can discard the response before the client reads it (RFC
// 9112 9.6).
constexpr std::chrono::milliseconds kLinger{2000};
// Pieces of a streamed body one connection may make in one turn of the
// loop (each ~0.1 ms to render, ~0.5 ms gzipped), before the others' turn.
constexpr int kPiecesPerTurn = 4;

class EventLoop {
public:
	EventLoop(int listen_fd, int wake_fd, int epoll_fd, const HttpLimits &limits, const std::atomic<bool> &stopping,
		  std::atomic<std::size_t> &peak_reply_bytes, WorkerPool &pool)
		: listen_fd_(listen_fd), wake_fd_(wake_fd), epoll_fd_(epoll_fd), limits_(limits), stopping_(stopping),
		  peak_reply_bytes_(peak_reply_bytes), pool_(pool) {}
	void run();

private:
	enum class State {
		reading,    // a head (or, idle, the next keep-alive request)
		handling,   // a worker has the request
		writing,    // the response
		lingering,  // after the last response: until the client closes
	};
	struct Conn {
		std::uint64_t id = 0;  // epoll's data: never reused, unlike fds
		UniqueFd fd;
		State state = State::reading;
		bool idle = false;        // reading, between keep-alive requests, nothing read yet
		bool keep_alive = false;  // after the response in flight
		std::uint32_t events = 0;
		std::string in;  // read, not yet a request (a head in progress, or pipelined)
		std::unique_ptr<Reply> reply;
		Clock::time_point deadline = Clock::time_point::max();
	};

	void accept_some(Clock::time_point now);
	void turn_away(int fd);
	bool evict_idle();
	void on_event(std::uint64_t id, std::uint32_t events, Clock::time_point now);
	void read_head(Conn &c, Clock::time_point now);
	void take_request(Conn &c, Clock::time_point now);
	void refuse(Conn &c, int status, std::string why, Clock::time_point now);
	void start_reply(Conn &c, std::unique_ptr<Reply> reply, Clock::time_point now);
	void flush(Conn &c, Clock::time_point now);
	void drain(Conn &c);
	void note_size(const Reply &r);
	void expire(Clock::time_point now);
	int timeout_ms(Clock::time_point now) const;
	void watch(Conn &c, std::uint32_t events);
	void close(Conn &c) { conns_.erase(c.id); }  // the fd leaves the epoll set as it closes

	const int listen_fd_, wake_fd_, epoll_fd_;
	const HttpLimits &limits_;
	const std::atomic<bool> &stopping_;
	std::atomic<std::size_t> &peak_reply_bytes_;
	WorkerPool &pool_;
	std::unordered_map<std::uint64_t, Conn> conns_;
	std::uint64_t next_id_ = kWakeId + 1;
	Clock::time_point accept_resume_ = Clock::time_point::min();
	bool accept_paused_ = false;
};

void EventLoop::run()
{
	epoll_event events[64];
	while (!stopping_) {
		const int n = ::epoll_wait(epoll_fd_, events, 64, timeout_ms(Clock::now()));
		if (n < 0 && errno != EINTR)
			return;  // only with a bad epoll fd, which bind() made
		const Clock::time_point now = Clock::now();
		for (int i = 0; i < n; i++) {
			const std::uint64_t id = events[i].data.u64;
			if (id == kListenId) {
				accept_some(now);
			} else if (id == kWakeId) {
				std::uint64_t count;
				(void)!::read(wake_fd_, &count, sizeof(count));
				for (WorkerPool::Done &d : pool_.take_done()) {
					auto it = conns_.find(d.conn);  // gone if the client hung up meanwhile
					if (it != conns_.end() && it->second.state == State::handling)
						start_reply(it->second, std::move(d.reply), now);
				}
			} else {
				on_event(id, events[i].events, now);
			}
		}
		if (accept_paused_ && now >= accept_resume_) {
			epoll_event ev{EPOLLIN, {.u64 = kListenId}};
			::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
			accept_paused_ = false;
		}
		expire(now);
	}
}

void EventLoop::accept_some(Clock::time_point now)
{
	for (int i = 0; i < kAcceptsPerTurn; i++) {
		UniqueFd fd(::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
		if (!fd.valid()) {
			if (errno == ECONNABORTED || errno == EINTR)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				epoll_event ev{0, {.u64 = kListenId}};
				::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
				accept_paused_ = true;
				accept_resume_ = now + kAcceptPause;
			}
			return;  // EAGAIN: none left
		}
		if (conns_.size() >= limits_.max_connections && !evict_idle()) {
			turn_away(fd.get());
			continue;
		}
		const std::uint64_t id = next_id_++;
		Conn &c = conns_[id];
		c.id = id;
		c.fd = std::move(fd);
		c.deadline = now + limits_.head_timeout;
		c.events = EPOLLIN | EPOLLRDHUP;
		epoll_event ev{c.events, {.u64 = id}};
		if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd.get(), &ev) != 0)
			close(c);
	}
}

// Over the bound, a 503 rather than a bare close: the scraper then logs
// "server returned HTTP status 503 Service Unavailable", which names the
// cause, where a close reads as a network fault. It costs one non-blocking
// send into the new socket's empty buffer, never a wait. What the client
// already sent is read first, so the close sends a FIN and not a RST that
// could discard the 503.
void EventLoop::turn_away(int fd)
{
	char buf[4096];
	for (int i = 0; i < 4 && ::recv(fd, buf, sizeof(buf), 0) > 0; i++) {
	}
	static const std::string busy =
		render_http_response({}, {503, "text/plain", "listenq: too many open connections\n"});
	(void)!::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL);
}

// At the bound, a keep-alive connection between requests gives way to a
// new one: its client reconnects for its next request, while the new client
// may be a scraper that has none.
bool EventLoop::evict_idle()
{
	auto oldest = conns_.end();
	for (auto it = conns_.begin(); it != conns_.end(); ++it)
		if (it->second.idle && (oldest == conns_.end() || it->second.deadline < oldest->second.deadline))
			oldest = it;
	if (oldest == conns_.end())
		return false;
	conns_.erase(oldest);
	return true;
}

void EventLoop::on_event(std::uint64_t id, std::uint32_t events, Clock::time_point now)
{
	auto it = conns_.find(id);
	if (it == conns_.end())
		return;  // closed earlier in this turn
	Conn &c = it->second;
	if (events & (EPOLLERR | EPOLLHUP)) {
		close(c);  // reset or both ways shut: no response can reach the client
		return;
	}
	switch (c.state) {
	case State::reading: read_head(c, now); break;
	case State::writing: flush(c, now); break;
	case State::lingering: drain(c); break;
	case State::handling: break;
	}
}

void EventLoop::read_head(Conn &c, Clock::time_point now)
{
	// Never more than max_head in the buffer: by then framing has decided.
	char buf[4096];
	const std::size_t room = std::min(sizeof(buf), limits_.max_head - c.in.size());
	const ssize_t n = ::recv(c.fd.get(), buf, room, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(c);  // the client left before a whole head
		return;
	}
	if (c.idle) {
		c.idle = false;
		c.deadline = now + limits_.head_timeout;
	}
	c.in.append(buf, static_cast<std::size_t>(n));
	take_request(c, now);
}

// A complete head in c.in goes to a worker, or gets its error status.
void EventLoop::take_request(Conn &c, Clock::time_point now)
{
	const HeadFrame f = frame_http_head(c.in, limits_.max_head);
	if (f.status == HeadFrame::incomplete) {
		watch(c, EPOLLIN | EPOLLRDHUP);
		return;
	}
	if (f.status == HeadFrame::too_large) {
		refuse(c, 431, "request head over " + std::to_string(limits_.max_head) + " bytes\n", now);
		return;
	}
	auto req = parse_http_request(f.head);
	if (!req) {
		refuse(c, 400, "malformed request line\n", now);
		return;
	}
	if (req->method != "GET" && req->method != "HEAD") {
		refuse(c, 405, "only GET and HEAD\n", now);
		return;
	}
	c.in.erase(0, f.consumed);  // what follows is the next (pipelined) request
	c.keep_alive = req->keep_alive;
	c.state = State::handling;
	c.deadline = Clock::time_point::max();  // the handler is ours, and bounded
	watch(c, 0);                             // pipelined bytes wait for the response
	pool_.submit(c.id, std::move(*req));
}

// An error status on the loop (no gzip: the body is a line), then close.
void EventLoop::refuse(Conn &c, int status, std::string why, Clock::time_point now)
{
	c.keep_alive = false;
	start_reply(c, make_reply({}, {status, "text/plain", std::move(why)}, limits_.piece_bytes), now);
}

void EventLoop::start_reply(Conn &c, std::unique_ptr<Reply> reply, Clock::time_point now)
{
	c.state = State::writing;
	c.reply = std::move(reply);
	c.keep_alive = c.keep_alive && c.reply->keep_alive();
	c.deadline = now + limits_.write_timeout;
	note_size(*c.reply);
	flush(c, now);
}

// Sends what the socket takes now, making a streamed body's next pieces as
// the previous ones leave; the rest when it is writable again. At most
// kPiecesPerTurn pieces a turn: the other connections get theirs between.
void EventLoop::flush(Conn &c, Clock::time_point now)
{
	Reply &r = *c.reply;
	int pieces = 0;
	while (!r.complete()) {
		iovec iov[3];
		msghdr msg{};
		msg.msg_iov = iov;
		msg.msg_iovlen = static_cast<std::size_t>(r.spans(iov));
		if (msg.msg_iovlen == 0) {
			if (pieces++ == kPiecesPerTurn) {
				watch(c, EPOLLOUT);  // writable: the next epoll_wait returns at once
				return;
			}
			(void)r.make_piece();  // an error: complete, cut short
			note_size(r);
			continue;
		}
		const ssize_t n = ::sendmsg(c.fd.get(), &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			watch(c, EPOLLOUT);
			return;
		}
		if (n < 0) {
			close(c);  // the client left
			return;
		}
		r.sent(static_cast<std::size_t>(n));
	}
	if (r.cut_short()) {
		close(c);  // without its last chunk: the client sees the body end short
		return;
	}
	c.reply.reset();
	if (c.keep_alive && !stopping_) {
		c.state = State::reading;
		if (c.in.empty()) {
			c.idle = true;
			c.deadline = now + limits_.idle_timeout;
		} else {
			c.deadline = now + limits_.head_timeout;  // a pipelined request
		}
		take_request(c, now);
		return;
	}
	::shutdown(c.fd.get(), SHUT_WR);
	c.state = State::lingering;
	c.in.clear();
	c.deadline = now + kLinger;
	watch(c, EPOLLIN | EPOLLRDHUP);
}

void EventLoop::drain(Conn &c)
{
	char buf[4096];
	const ssize_t n = ::recv(c.fd.get(), buf, sizeof(buf), 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		close(c);
}

void EventLoop::note_size(const Reply &r)
{
	const std::size_t n = r.buffered();
	if (n > peak_reply_bytes_.load(std::memory_order_relaxed))
		peak_reply_bytes_.store(n, std::memory_order_relaxed);  // only this thread writes it
}

void EventLoop::expire(Clock::time_point now)
{
	std::vector<std::uint64_t> due;
	for (const auto &[id, c] : conns_)
		if (c.deadline <= now)
			due.push_back(id);
	for (std::uint64_t id : due) {
		Conn &c = conns_.at(id);
		if (c.state == State::reading && !c.idle && !c.in.empty()) {
			refuse(c, 408, "request head not received within " +
						   std::to_string(limits_.head_timeout.count()) + " ms\n",
			       now);
		} else if (c.state == State::writing) {
			// The client stopped reading: a RST frees the unsent response
			// now, where a close would leave the kernel to try on.
			const linger reset{1, 0};
			::setsockopt(c.fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
			close(c);
		} else {
			close(c);  // silent since accept, idle, or lingering
		}
	}
}

int EventLoop::timeout_ms(Clock::time_point now) const
{
	Clock::time_point next = accept_paused_ ? accept_resume_ : Clock::time_point::max();
	for (const auto &[id, c] : conns_)
		next = std::min(next, c.deadline);
	if (next == Clock::time_point::max())
		return -1;  // stop() and the workers wake the loop through the eventfd
	if (next <= now)
		return 0;
	// Rounded up, so the loop wakes after the deadline, not 1 ms before it.
	const auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
	return static_cast<int>(std::min<decltype(ms)>(ms, 60000));
}

void EventLoop::watch(Conn &c, std::uint32_t events)
{
	if (c.events == events)
		return;
	c.events = events;
	// Level-triggered: a connection whose client went away while a worker
	// has its request still reports EPOLLHUP, and is closed (on_event).
	epoll_event ev{events, {.u64 = c.id}};
	::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd.get(), &ev);
}

}  // namespace

Result<void> HttpServer::bind(const ListenAddress &addr)
{
	UniqueFd fd(::socket(addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
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
	UniqueFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	if (!wake.valid())
		return Error::from_errno(errno, "eventfd");
	UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
	if (!ep.valid())
		return Error::from_errno(errno, "epoll_create1");
	epoll_event on_listen{EPOLLIN, {.u64 = kListenId}}, on_wake{EPOLLIN, {.u64 = kWakeId}};
	if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &on_listen) != 0 ||
	    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, wake.get(), &on_wake) != 0)
		return Error::from_errno(errno, "epoll_ctl");
	listen_fd_ = std::move(fd);
	wake_fd_ = std::move(wake);
	epoll_fd_ = std::move(ep);
	return {};
}

std::uint16_t HttpServer::port() const
{
	sockaddr_storage ss{};
	socklen_t len = sizeof(ss);
	if (::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr *>(&ss), &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(reinterpret_cast<const sockaddr_in6 *>(&ss)->sin6_port);
	return ntohs(reinterpret_cast<const sockaddr_in *>(&ss)->sin_port);
}

void HttpServer::run(const Handler &handler)
{
	if (!epoll_fd_.valid())
		return;  // not bound
	// The pool outlives the loop's connections: its destructor waits for
	// the handler calls in progress, whose replies are then dropped.
	WorkerPool pool(limits_.workers, handler, wake_fd_.get(), limits_.piece_bytes);
	EventLoop(listen_fd_.get(), wake_fd_.get(), epoll_fd_.get(), limits_, stopping_, peak_reply_bytes_, pool).run();
}

void HttpServer::stop()
{
	stopping_ = true;
	if (wake_fd_.valid())
		wake(wake_fd_.get());
}

}  // namespace listenq
