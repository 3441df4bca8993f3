#include "net_helpers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char **environ;

namespace listenq::testing {

namespace {

Result<sockaddr_storage> make_addr(const std::string &addr, std::uint16_t port, socklen_t &len)
{
	sockaddr_storage ss{};
	if (addr.find(':') != std::string::npos) {
		auto *s6 = reinterpret_cast<sockaddr_in6 *>(&ss);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) != 1)
			return Error{EINVAL, "bad IPv6 address " + addr};
		len = sizeof(sockaddr_in6);
	} else {
		auto *s4 = reinterpret_cast<sockaddr_in *>(&ss);
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (inet_pton(AF_INET, addr.c_str(), &s4->sin_addr) != 1)
			return Error{EINVAL, "bad IPv4 address " + addr};
		len = sizeof(sockaddr_in);
	}
	return ss;
}

std::uint16_t csum(const void *data, std::size_t len, std::uint32_t sum = 0)
{
	const auto *p = static_cast<const std::uint8_t *>(data);
	for (std::size_t i = 0; i + 1 < len; i += 2)
		sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += static_cast<std::uint32_t>(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return static_cast<std::uint16_t>(~sum);
}

}  // namespace

Result<void> enter_private_netns()
{
	if (::unshare(CLONE_NEWNET) != 0)
		return Error::from_errno(errno, "unshare(CLONE_NEWNET)");
	UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	ifreq ifr{};
	std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0)
		return Error::from_errno(errno, "SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP;
	if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0)
		return Error::from_errno(errno, "SIOCSIFFLAGS lo up");
	return {};
}

Result<UniqueFd> make_listener(const std::string &addr, std::uint16_t port, int backlog, bool reuseport)
{
	socklen_t len = 0;
	auto sa = make_addr(addr, port, len);
	if (!sa)
		return sa.error();
	UniqueFd fd(::socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd.valid())
		return Error::from_errno(errno, "socket");
	int one = 1;
	::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&*sa), len) != 0)
		return Error::from_errno(errno, "bind " + addr + ":" + std::to_string(port));
	if (::listen(fd.get(), backlog) != 0)
		return Error::from_errno(errno, "listen");
	return fd;
}

std::uint16_t local_port(int fd)
{
	sockaddr_storage ss{};
	socklen_t len = sizeof(ss);
	::getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len);
	if (ss.ss_family == AF_INET6)
		return ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port);
	return ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
}

Result<UniqueFd> connect_to(const std::string &addr, std::uint16_t port)
{
	socklen_t len = 0;
	auto sa = make_addr(addr, port, len);
	if (!sa)
		return sa.error();
	UniqueFd fd(::socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!fd.valid())
		return Error::from_errno(errno, "socket");
	if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&*sa), len) != 0)
		return Error::from_errno(errno, "connect " + addr + ":" + std::to_string(port));
	return fd;
}

Result<std::vector<UniqueFd>> connect_many(const std::string &addr, std::uint16_t port, int n)
{
	std::vector<UniqueFd> out;
	for (int i = 0; i < n; i++) {
		auto c = connect_to(addr, port);
		if (!c)
			return c.error();
		out.push_back(std::move(*c));
	}
	return out;
}

UniqueFd nonblocking_connect(std::uint16_t port)
{
	UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)::connect(fd.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa));
	return fd;
}

std::vector<UniqueFd> connect_burst(std::uint16_t port, int n)
{
	std::vector<UniqueFd> out;
	for (int i = 0; i < n; i++)
		out.push_back(nonblocking_connect(port));
	return out;
}

void reset_all(std::vector<UniqueFd> &fds)
{
	const linger reset{1, 0};
	for (UniqueFd &fd : fds)
		::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	fds.clear();
}

std::uint32_t accept_queue_most(std::uint32_t backlog)
{
	const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
	return backlog + static_cast<std::uint32_t>(cpus > 0 ? cpus : 1);
}

int accept_all(int listen_fd)
{
	::fcntl(listen_fd, F_SETFL, ::fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
	int n = 0;
	while (UniqueFd(::accept(listen_fd, nullptr, nullptr)).valid())
		n++;
	return n;
}

std::uint32_t accept_queue_by_tcp_info(int listen_fd)
{
	tcp_info ti{};
	socklen_t len = sizeof(ti);
	if (::getsockopt(listen_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return UINT32_MAX;
	return ti.tcpi_unacked;
}

bool wait_until(const std::function<bool()> &pred, std::chrono::milliseconds timeout)
{
	auto deadline = std::chrono::steady_clock::now() + timeout;
	while (!pred()) {
		if (std::chrono::steady_clock::now() > deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	return true;
}

Result<void> setup_blackhole_peer()
{
	// iproute2's ip by full path: a busybox sh would run its own ip applet.
	const std::string ip = which("ip");
	if (ip.empty())
		return Error{ENOENT, "iproute2 ip not found in PATH"};
	const char *args[] = {
		"link add lqv0 type veth peer name lqv1",
		"addr add 192.0.2.2/24 dev lqv0",
		"link set lqv0 up",
		"neigh replace 192.0.2.1 lladdr 02:00:00:00:00:01 dev lqv0 nud permanent",
	};
	for (const char *a : args) {
		const std::string c = ip + " " + a;
		FILE *p = ::popen((c + " 2>&1").c_str(), "r");
		std::string out;
		char buf[256];
		while (p && std::fgets(buf, sizeof(buf), p))
			out += buf;
		if (!p || ::pclose(p) != 0)
			return Error{EIO, std::string("command failed: ") + c + ": " + out};
	}
	return {};
}

Result<void> send_raw_syn(std::uint16_t sport, std::uint16_t dport)
{
	UniqueFd fd(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
	if (!fd.valid())
		return Error::from_errno(errno, "raw socket");
	struct {
		iphdr ip;
		std::uint8_t tcp[20];
	} pkt{};
	const in_addr_t src = inet_addr("192.0.2.1"), dst = inet_addr("192.0.2.2");
	pkt.ip.version = 4;
	pkt.ip.ihl = 5;
	pkt.ip.ttl = 64;
	pkt.ip.protocol = IPPROTO_TCP;
	pkt.ip.tot_len = htons(sizeof(pkt));
	pkt.ip.saddr = src;
	pkt.ip.daddr = dst;
	std::uint8_t *t = pkt.tcp;
	t[0] = static_cast<std::uint8_t>(sport >> 8), t[1] = static_cast<std::uint8_t>(sport);
	t[2] = static_cast<std::uint8_t>(dport >> 8), t[3] = static_cast<std::uint8_t>(dport);
	const std::uint32_t seq = 0x1000u * sport;
	t[4] = static_cast<std::uint8_t>(seq >> 24), t[5] = static_cast<std::uint8_t>(seq >> 16);
	t[6] = static_cast<std::uint8_t>(seq >> 8), t[7] = static_cast<std::uint8_t>(seq);
	t[12] = 5 << 4;       // data offset: 5 words
	t[13] = 0x02;         // SYN
	t[14] = 0xff, t[15] = 0xff;  // window
	// TCP checksum over the pseudo header and the segment.
	std::uint8_t pseudo[12 + 20];
	std::memcpy(pseudo, &src, 4);
	std::memcpy(pseudo + 4, &dst, 4);
	pseudo[8] = 0, pseudo[9] = IPPROTO_TCP, pseudo[10] = 0, pseudo[11] = 20;
	std::memcpy(pseudo + 12, t, 20);
	std::uint16_t c = csum(pseudo, sizeof(pseudo));
	t[16] = static_cast<std::uint8_t>(c >> 8), t[17] = static_cast<std::uint8_t>(c);

	sockaddr_in to{};
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = dst;
	if (::sendto(fd.get(), &pkt, sizeof(pkt), 0, reinterpret_cast<sockaddr *>(&to), sizeof(to)) < 0)
		return Error::from_errno(errno, "sendto raw SYN");
	return {};
}

std::string which(const std::string &name)
{
	const char *path = std::getenv("PATH");
	std::string dirs = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
	std::size_t start = 0;
	while (start <= dirs.size()) {
		std::size_t end = dirs.find(':', start);
		if (end == std::string::npos)
			end = dirs.size();
		std::string cand = dirs.substr(start, end - start) + "/" + name;
		if (::access(cand.c_str(), X_OK) == 0)
			return cand;
		start = end + 1;
	}
	return "";
}

namespace {

// fork + execve of argv (a path) with o's environment, streams and CPU;
// out and err are the pipes' write ends, or -1 for /dev/null.
pid_t fork_exec(const std::vector<std::string> &argv, const SpawnOptions &o, int out, int err)
{
	std::vector<std::string> envs;
	for (char **e = environ; *e; e++)
		envs.emplace_back(*e);
	envs.insert(envs.end(), o.env.begin(), o.env.end());
	const pid_t pid = ::fork();
	if (pid != 0)
		return pid;
	if (o.cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		::sched_setaffinity(0, sizeof(set), &set);
	}
	const int null = ::open("/dev/null", O_RDWR);
	::dup2(null, 0);
	::dup2(out >= 0 ? out : null, 1);
	::dup2(err >= 0 ? err : null, 2);
	std::vector<char *> a, e;
	for (auto &s : const_cast<std::vector<std::string> &>(argv))
		a.push_back(s.data());
	a.push_back(nullptr);
	for (auto &s : envs)
		e.push_back(s.data());
	e.push_back(nullptr);
	::execve(a[0], a.data(), e.data());
	::_exit(127);
}

// wait4 with the usage; flags as waitpid's. The pid, or 0 (WNOHANG, still
// running), or -1.
pid_t reap(pid_t pid, int *status, int flags, std::chrono::steady_clock::time_point start, Usage &u)
{
	rusage ru{};
	const pid_t r = ::wait4(pid, status, flags, &ru);
	if (r == pid) {
		u.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
		u.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			  static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
		u.maxrss_kib = ru.ru_maxrss;
	}
	return r;
}

// Polls reap() until the child is reaped or `until`: 100 us at first (its
// exit follows its pipes' EOF within microseconds, and the bench times
// runs of a few ms), doubling up to the 20 ms of a child that lingers.
pid_t reap_until(pid_t pid, int *status, std::chrono::steady_clock::time_point start, Usage &u,
		 std::chrono::steady_clock::time_point until)
{
	pid_t r;
	for (useconds_t pause = 100; (r = reap(pid, status, WNOHANG, start, u)) == 0 &&
				     std::chrono::steady_clock::now() < until;
	     pause = std::min<useconds_t>(pause * 2, 20000))
		::usleep(pause);
	return r;
}

// A pipe's ends, or {-1, -1} when the stream is not kept.
bool open_pipe(bool keep, int (&fds)[2])
{
	fds[0] = fds[1] = -1;
	return !keep || ::pipe2(fds, O_CLOEXEC) == 0;
}

}  // namespace

RunResult run_program(const std::vector<std::string> &argv, const std::vector<std::string> &env)
{
	SpawnOptions o;
	o.env = env;
	return run_program(argv, o);
}

RunResult run_program(const std::vector<std::string> &argv, const SpawnOptions &o)
{
	RunResult r;
	int out[2], err[2];
	if (!open_pipe(o.keep_out, out) || !open_pipe(o.keep_err, err))
		return r;
	const auto start = std::chrono::steady_clock::now();
	const pid_t pid = fork_exec(argv, o, out[1], err[1]);
	for (int fd : {out[1], err[1]})
		if (fd >= 0)
			::close(fd);
	pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
	int open = (out[0] >= 0) + (err[0] >= 0);
	char buf[65536];
	int status = 0;
	bool exited = false, killed = false;
	// Until both pipes end; a child that has exited but left a descendant
	// holding them is drained for 2 s more. At kRunLimit it is killed.
	auto drain_until = std::chrono::steady_clock::time_point::max();
	while (open > 0) {
		const auto now = std::chrono::steady_clock::now();
		if (now >= drain_until)
			break;
		if (!killed && now - start >= kRunLimit) {
			::kill(pid, SIGKILL);
			killed = true;
			drain_until = now + std::chrono::seconds(2);
		}
		if (::poll(fds, 2, 1000) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
				continue;
			ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				::close(fds[i].fd);
				fds[i].fd = -1;
				open--;
			} else {
				(i ? r.err : r.out).append(buf, static_cast<std::size_t>(n));
			}
		}
		if (!exited && reap(pid, &status, WNOHANG, start, r.usage) == pid) {
			exited = true;
			drain_until = std::min(drain_until, std::chrono::steady_clock::now() + std::chrono::seconds(2));
		}
	}
	for (auto &f : fds)
		if (f.fd >= 0)
			::close(f.fd);
	if (!exited && reap(pid, &status, WNOHANG, start, r.usage) != pid) {
		// Pipes closed early (or none kept): wait for the exit, within the limit.
		if ((killed || reap_until(pid, &status, start, r.usage, start + kRunLimit) != pid) &&
		    reap(pid, &status, WNOHANG, start, r.usage) == 0) {
			::kill(pid, SIGKILL);
			killed = true;
			reap(pid, &status, 0, start, r.usage);
		}
	}
	if (killed)
		r.err += "\n[run_program: " + argv[0] + " killed after " + std::to_string(kRunLimit.count()) +
			 " s without exiting]\n";
	r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return r;
}

Spawned::Spawned(const std::vector<std::string> &argv, const std::vector<std::string> &env)
	: Spawned(argv, SpawnOptions{env, true, true, -1})
{
}

Spawned::Spawned(const std::vector<std::string> &argv, const SpawnOptions &o)
{
	int out[2], err[2];
	if (!open_pipe(o.keep_out, out) || !open_pipe(o.keep_err, err))
		return;
	start_ = std::chrono::steady_clock::now();
	pid_ = fork_exec(argv, o, out[1], err[1]);
	for (int fd : {out[1], err[1]})
		if (fd >= 0)
			::close(fd);
	out_ = out[0];
	err_ = err[0];
	eof_ = out_ < 0;
}

Spawned::~Spawned()
{
	if (pid_ > 0) {
		::kill(pid_, SIGKILL);
		::waitpid(pid_, nullptr, 0);
	}
	if (out_ >= 0)
		::close(out_);
	if (err_ >= 0)
		::close(err_);
}

std::optional<std::string> Spawned::read_line(std::chrono::milliseconds timeout)
{
	auto deadline = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		if (auto nl = buf_.find('\n'); nl != std::string::npos) {
			std::string line = buf_.substr(0, nl);
			buf_.erase(0, nl + 1);
			return line;
		}
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0 || out_ < 0)
			return std::nullopt;
		pollfd p{out_, POLLIN, 0};
		if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
			return std::nullopt;
		char b[4096];
		ssize_t n = ::read(out_, b, sizeof(b));
		if (n <= 0) {
			eof_ = n == 0;
			return std::nullopt;
		}
		buf_.append(b, static_cast<std::size_t>(n));
	}
}

bool Spawned::wait_stderr(const std::string &text, std::chrono::milliseconds timeout)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	while (err_buf_.find(text) == std::string::npos) {
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0 || err_ < 0)
			return false;
		pollfd p{err_, POLLIN, 0};
		if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
			return false;
		char b[4096];
		const ssize_t n = ::read(err_, b, sizeof(b));
		if (n <= 0)
			return false;
		err_buf_.append(b, static_cast<std::size_t>(n));
	}
	return true;
}

int Spawned::wait(std::chrono::milliseconds timeout, std::vector<std::string> &rest, std::string &err)
{
	err += err_buf_;
	err_buf_.clear();
	// Everything it writes until EOF; at the deadline it is killed and what
	// it wrote so far is still drained (never a line cut by a timeout).
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	bool killed = false;
	for (;;) {
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
		if (auto l = read_line(killed ? std::chrono::milliseconds(5000) : std::max(left, std::chrono::milliseconds(0)))) {
			rest.push_back(*l);
			continue;
		}
		if (eof_ || killed)
			break;
		::kill(pid_, SIGKILL);
		killed = true;
	}
	if (!buf_.empty())
		rest.push_back(buf_);
	// stderr to its end, for at most 5 s: a descendant that holds it open
	// (demo's children) does not hang the test.
	char b[4096];
	const auto err_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
	while (err_ >= 0) {
		const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(err_deadline -
											 std::chrono::steady_clock::now());
		pollfd p{err_, POLLIN, 0};
		if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
			break;
		const ssize_t n = ::read(err_, b, sizeof(b));
		if (n <= 0)
			break;
		err.append(b, static_cast<std::size_t>(n));
	}
	int status = 0;
	// No stdout kept: nothing ends at EOF, so wait for the exit itself.
	const pid_t reaped = out_ < 0 && !killed ? reap_until(pid_, &status, start_, usage_, deadline) : 0;
	if (reaped != pid_ && reap(pid_, &status, WNOHANG, start_, usage_) == 0) {
		::kill(pid_, SIGKILL);
		reap(pid_, &status, 0, start_, usage_);
	}
	pid_ = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool Spawned::exited() const
{
	siginfo_t si{};
	return pid_ > 0 && ::waitid(P_PID, static_cast<id_t>(pid_), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid_;
}

void Spawned::signal(int sig)
{
	if (pid_ > 0)
		::kill(pid_, sig);
}

std::vector<nlohmann::json> parse_json_lines(const std::vector<std::string> &lines)
{
	std::vector<nlohmann::json> out;
	for (const auto &l : lines)
		if (!l.empty())
			out.push_back(nlohmann::json::parse(l));
	return out;
}

std::uint32_t netns_somaxconn()
{
	std::ifstream in("/proc/sys/net/core/somaxconn");
	std::uint32_t v = 0;
	in >> v;
	return v;
}

std::uint64_t netstat_counter(const std::string &name)
{
	std::ifstream in("/proc/net/netstat");
	std::string names, values;
	while (std::getline(in, names) && std::getline(in, values)) {
		std::istringstream n(names), v(values);
		std::string k, val;
		n >> k;
		v >> val;
		if (k != "TcpExt:")
			continue;
		while (n >> k && v >> val)
			if (k == name)
				return std::stoull(val);
	}
	return UINT64_MAX;
}

std::uint64_t socket_cookie(int fd)
{
	std::uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len);
	return cookie;
}

ProcessTraces process_traces()
{
	ProcessTraces t;
	std::error_code ec;
	for (const auto &e : std::filesystem::directory_iterator("/proc", ec)) {
		const std::string name = e.path().filename().string();
		if (name.find_first_not_of("0123456789") != std::string::npos)
			continue;
		struct stat st {};
		if (::stat((e.path() / "ns/net").c_str(), &st) == 0)
			t.netns.insert(st.st_ino);
		std::ifstream f(e.path() / "comm");
		std::string comm;
		if (std::getline(f, comm) && (comm == "slow-server" || comm == "burst-client"))
			t.demo_pids.insert(std::stoi(name));
	}
	return t;
}

std::string process_leftovers(const ProcessTraces &before, const ProcessTraces &after)
{
	std::size_t netns = 0, procs = 0;
	for (std::uint64_t n : after.netns)
		netns += !before.netns.count(n);
	for (int p : after.demo_pids)
		procs += !before.demo_pids.count(p);
	if (!netns && !procs)
		return "";
	return std::to_string(netns) + " netns, " + std::to_string(procs) + " slow-server/burst-client processes left";
}

}  // namespace listenq::testing
