// listenq demo: the embedded default. A private network namespace, a server
// with a small backlog that accepts slowly, a burst of connections that
// overflows it; `watch` live, then `verify --emulate-no-tcp-diag`.
//
// Cleanup on every exit path: the namespace is anonymous (unshare, never
// named), so it goes when its last process does; both processes are our
// children with PR_SET_PDEATHSIG(SIGKILL), killed and reaped by their
// owners' destructors, and by the kernel if listenq itself is SIGKILLed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "cli/commands.h"
#include "cli/tracing_loop.h"
#include "sources/kernel_info.h"
#include "util/unique_fd.h"

namespace listenq {

namespace {

constexpr std::uint16_t kDemoPort = 8080;

// A forked helper that waits for "go", runs its body, and reports "ready"
// (or why not) on a pipe. Killed and reaped when this object goes.
class DemoChild {
public:
	using Body = std::function<void(int ready_fd)>;  // writes "r" when ready, or an error text

	static Result<DemoChild> spawn(const char *name, const Body &body)
	{
		int go[2], ready[2];
		if (::pipe2(go, O_CLOEXEC) != 0)
			return Error::from_errno(errno, "pipe");
		if (::pipe2(ready, O_CLOEXEC) != 0) {
			::close(go[0]), ::close(go[1]);
			return Error::from_errno(errno, "pipe");
		}
		const pid_t parent = ::getpid();
		const pid_t pid = ::fork();
		if (pid < 0) {
			const int e = errno;
			for (int fd : {go[0], go[1], ready[0], ready[1]})
				::close(fd);
			return Error::from_errno(e, std::string("fork ") + name);
		}
		if (pid == 0) {
			::prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (::getppid() != parent)
				::_exit(1);
			::prctl(PR_SET_NAME, name);
			// Ctrl-C reaches the whole process group: listenq decides.
			::signal(SIGINT, SIG_IGN);
			::signal(SIGHUP, SIG_IGN);
			::close(go[1]);
			::close(ready[0]);
			char c;
			if (::read(go[0], &c, 1) == 1)
				body(ready[1]);
			::_exit(0);
		}
		::close(go[0]);
		::close(ready[1]);
		DemoChild c;
		c.pid_ = pid;
		c.go_.reset(go[1]);
		c.ready_.reset(ready[0]);
		return c;
	}

	DemoChild() = default;
	DemoChild(DemoChild &&o) noexcept
	    : pid_(std::exchange(o.pid_, -1)), go_(std::move(o.go_)), ready_(std::move(o.ready_)) {}
	DemoChild &operator=(DemoChild &&) = delete;
	~DemoChild()
	{
		if (pid_ > 0) {
			::kill(pid_, SIGKILL);
			while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
			}
		}
	}

	// Lets the body run and waits for its report.
	Result<void> start(const char *what, int timeout_ms = 5000)
	{
		if (::write(go_.get(), "g", 1) != 1)
			return Error::from_errno(errno, std::string(what) + ": start");
		pollfd p{ready_.get(), POLLIN, 0};
		if (::poll(&p, 1, timeout_ms) != 1)
			return Error{ETIMEDOUT, std::string(what) + ": not ready after " + std::to_string(timeout_ms) + " ms"};
		char buf[256];
		const ssize_t n = ::read(ready_.get(), buf, sizeof(buf));
		if (n == 1 && buf[0] == 'r')
			return {};
		return Error{EIO, std::string(what) + ": " + (n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "exited")};
	}
	void signal(int sig) const { ::kill(pid_, sig); }

private:
	pid_t pid_ = -1;
	UniqueFd go_, ready_;
};

void report(int fd, const std::string &text) { (void)!::write(fd, text.data(), text.size()); }

sockaddr_in demo_address()
{
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(kDemoPort);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

// The slow server: listen(backlog), then one accept() per accept_ms.
void slow_server(int ready, int backlog, std::uint32_t accept_ms)
{
	const sockaddr_in sa = demo_address();
	const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr *>(&sa), sizeof(sa)) != 0 || ::listen(fd, backlog) != 0)
		return report(ready, std::string("listen on 127.0.0.1:8080: ") + std::strerror(errno));
	report(ready, "r");
	for (;;) {
		::usleep(accept_ms * 1000);
		const int c = ::accept(fd, nullptr, nullptr);
		if (c >= 0)
			::close(c);
	}
}

// The burst: `count` non-blocking connects at once, held open.
void burst_client(int ready, int count)
{
	const sockaddr_in sa = demo_address();
	std::vector<int> fds;
	for (int i = 0; i < count; i++) {
		const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return report(ready, std::string("socket: ") + std::strerror(errno));
		if (::connect(fd, reinterpret_cast<const sockaddr *>(&sa), sizeof(sa)) != 0 && errno != EINPROGRESS)
			return report(ready, std::string("connect: ") + std::strerror(errno));
		fds.push_back(fd);
	}
	report(ready, "r");
	for (;;)
		::pause();
}

Result<void> loopback_up()
{
	UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	ifreq ifr{};
	std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0)
		return Error::from_errno(errno, "SIOCGIFFLAGS lo");
	ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
	if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0)
		return Error::from_errno(errno, "bring lo up");
	return {};
}

}  // namespace

// Long: the demo's script, scene by scene, as it prints.
int run_demo(const Options &o, std::ostream &out, std::ostream &err)
{
	if (int rc = preflight(o, err))
		return rc;
	if (::unshare(CLONE_NEWNET) != 0)
		return fail(err, "demo", Error::from_errno(errno, "unshare(CLONE_NEWNET): a private network namespace"));
	if (auto r = loopback_up(); !r)
		return fail(err, "demo", r.error());
	const std::uint32_t netns = current_netns_inode();
	const DemoOptions &d = o.demo;

	out.flush(), err.flush();  // the children must not inherit unwritten output
	auto server = DemoChild::spawn("slow-server", [&](int ready) { slow_server(ready, d.backlog, d.accept_ms); });
	if (!server)
		return fail(err, "demo", server.error());
	auto client = DemoChild::spawn("burst-client", [&](int ready) { burst_client(ready, d.burst); });
	if (!client)
		return fail(err, "demo", client.error());

	Options w = o;
	w.tracing.interval = 1;
	w.tracing.count = static_cast<std::uint32_t>(std::ceil(d.seconds));
	w.tracing.netns = netns;
	auto tracer = start_tracer(w, nullptr);
	if (!tracer)
		return fail(err, "demo", tracer.error());
	install_stop_handlers();

	out << "listenq demo: in a private network namespace (netns " << netns
	    << "), made for this run and gone when it ends.\n"
	    << "  slow-server   listen(fd, " << d.backlog << ") on 127.0.0.1:" << kDemoPort << ", then one accept() every "
	    << d.accept_ms << " ms\n"
	    << "  burst-client  " << d.burst << " connections at once, after the first frame\n"
	    << "The accept queue holds backlog+1 = " << d.backlog + 1
	    << " connections; the kernel drops what comes on top (OVF: overflows)\n"
	    << "and the clients retry (SYN after 1 s, 3 s, 7 s ...).\n\n";
	if (auto r = server->start("slow-server"); !r)
		return fail(err, "demo", r.error());
	out << "== listenq watch 1 " << w.tracing.count << " --netns " << netns << '\n';
	out.flush();
	Result<void> burst;
	auto r = watch_loop(w, **tracer, out, [&](std::uint64_t seq) {
		if (seq == 1) {
			burst = client->start("burst-client");
			if (burst)
				out << "-- burst-client: " << d.burst << " connections opened\n";
		}
		out << '\n';
		out.flush();
	});
	if (!r)
		return fail(err, "demo", r.error());
	if (!burst)
		return fail(err, "demo", burst.error());
	tracer->reset();  // detach before verify loads its own program
	if (stop_requested()) {
		out << "listenq demo: interrupted; slow-server and burst-client are killed, the namespace goes with them\n";
		return kExitOk;
	}

	server->signal(SIGSTOP);  // a still queue: the three sources read one state
	out << "== slow-server paused (SIGSTOP), so the three sources below read the same queue\n"
	    << "== listenq verify --emulate-no-tcp-diag --port " << kDemoPort << '\n';
	out.flush();
	Options v = o;
	v.command = "verify";
	v.verify.emulate_no_tcp_diag = true;
	v.filter.port = kDemoPort;
	const int rc = run_verify(v, out, err);
	if (rc == kExitOk && d.doctor_seconds > 0 && !stop_requested()) {
		out << "\n== slow-server resumed (SIGCONT); a second burst of " << d.burst
		    << " connections when the window starts\n== listenq doctor " << d.doctor_seconds << " --netns " << netns
		    << " --port " << kDemoPort << '\n';
		out.flush(), err.flush();
		auto again = DemoChild::spawn("burst-client", [&](int ready) { burst_client(ready, d.burst); });
		if (!again)
			return fail(err, "demo", again.error());
		server->signal(SIGCONT);
		Options dr = o;
		dr.command = "doctor";
		dr.tracing.duration = d.doctor_seconds;
		dr.tracing.netns = netns;
		dr.filter.port = kDemoPort;
		Result<void> burst2;
		// Exit 1 with findings is what the demo is for, not its failure.
		bool failed = false;
		const int drc = run_doctor(dr, out, err, [&] { burst2 = again->start("burst-client"); }, &failed);
		if (failed)
			return drc;
		if (!burst2)
			return fail(err, "demo", burst2.error());
	}
	out << "\n== done: slow-server and burst-client are killed, the namespace goes with them\n"
	    << "Next: `sudo listenq watch` on your own listeners, `sudo listenq export` for Prometheus.\n";
	return rc;
}

}  // namespace listenq
