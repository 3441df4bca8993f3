// Real sockets for integration tests and fixture capture.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.h"
#include "util/unique_fd.h"

namespace listenq::testing {

// unshare(CLONE_NEWNET) and bring lo up: every later socket and child
// process of this process lives in a fresh, empty network namespace.
Result<void> enter_private_netns();

// Listener on addr:port ("127.0.0.1", "::1", "0.0.0.0"), port 0 = any.
Result<UniqueFd> make_listener(const std::string &addr, std::uint16_t port, int backlog, bool reuseport = false);
std::uint16_t local_port(int fd);
// Blocking connect to addr:port; the three-way handshake completes.
Result<UniqueFd> connect_to(const std::string &addr, std::uint16_t port);
// n blocking connects to addr:port, kept open while the vector lives
// (the first failure is the error).
Result<std::vector<UniqueFd>> connect_many(const std::string &addr, std::uint16_t port, int n);
// A non-blocking connect to 127.0.0.1:port (the handshake goes on alone).
UniqueFd nonblocking_connect(std::uint16_t port);
// n of them at once (a burst that can overflow a small backlog); the
// sockets stay open while the vector lives.
std::vector<UniqueFd> connect_burst(std::uint16_t port, int n);
// Closes each socket with a reset (SO_LINGER 0): none lingers as an orphan
// whose FIN retransmits would reach a listener's SYN queue (each one an
// ACK-path overflow there, seconds after the burst).
void reset_all(std::vector<UniqueFd> &fds);
// accept()s every connection waiting on a listener (which it makes
// non-blocking) and closes them; returns how many.
int accept_all(int listen_fd);
// The most connections an accept queue of this backlog can hold: backlog
// + 1 on one CPU. The full check (tcp_conn_request, tcp_v4_syn_recv_sock)
// and the add (inet_csk_reqsk_queue_add) are not under one lock, so each
// other online CPU completing a handshake for the listener at that moment
// can add one more (SYN-ACK retransmit timers answered on both CPUs of a
// 2-CPU guest: 6 for backlog 4; 10 for backlog 8 in the 5.4 guest's demo).
std::uint32_t accept_queue_most(std::uint32_t backlog);
// getsockopt(TCP_INFO) on a listener: tcpi_unacked = accept queue.
std::uint32_t accept_queue_by_tcp_info(int listen_fd);
// Polls pred every 10 ms until true or timeout.
bool wait_until(const std::function<bool()> &pred, std::chrono::milliseconds timeout);

// Half-open connections: a veth whose peer is down gets 192.0.2.0/24 with
// a permanent neighbour, so SYN-ACKs to 192.0.2.x leave and vanish. Raw
// SYNs from 192.0.2.1:sport to 192.0.2.2:dport (our address) then sit in
// the listener's SYN queue until their SYN-ACK retries time out.
Result<void> setup_blackhole_peer();
Result<void> send_raw_syn(std::uint16_t sport, std::uint16_t dport);

// What a child cost, from wait4 when it was reaped.
struct Usage {
	double wall_s = 0;    // fork to reap
	double cpu_s = 0;     // user + system
	long maxrss_kib = 0;  // peak RSS (what /usr/bin/time -v prints)
};

// How a child is started. env entries "K=V" are added to this process's
// environment; a stream not kept goes to /dev/null (as a user piping it
// away: no copy into this process); cpu >= 0 pins the child to that CPU.
struct SpawnOptions {
	std::vector<std::string> env;
	bool keep_out = true, keep_err = true;
	int cpu = -1;
};

// Runs a program, capturing stdout and stderr.
struct RunResult {
	int exit_code = -1;
	std::string out;
	std::string err;
	Usage usage;
};
// Full path of a program found in $PATH, or "" (argv[0] of run_program
// must be a path).
std::string which(const std::string &name);
// A program that has not exited after kRunLimit is killed (exit code 137),
// and err ends with a line saying so: a hung command fails its test instead
// of hanging the suite (a guest of the matrix died at its timeout with
// nothing said).
inline constexpr std::chrono::seconds kRunLimit{240};
RunResult run_program(const std::vector<std::string> &argv, const std::vector<std::string> &env = {});
RunResult run_program(const std::vector<std::string> &argv, const SpawnOptions &o);

// How long a command may take to print its first line: loading and
// verifying its BPF programs (the 5.10 guest, emulated beside another
// guest on a busy host, took over 10 s once).
inline constexpr std::chrono::seconds kStartLimit{60};

// A child whose stdout is read line by line while it runs.
class Spawned {
public:
	// env entries "K=V" are added to this process's environment.
	explicit Spawned(const std::vector<std::string> &argv, const std::vector<std::string> &env = {});
	Spawned(const std::vector<std::string> &argv, const SpawnOptions &o);
	~Spawned();
	Spawned(const Spawned &) = delete;
	Spawned &operator=(const Spawned &) = delete;
	// Next stdout line, or nullopt on EOF or after timeout.
	std::optional<std::string> read_line(std::chrono::milliseconds timeout);
	// Reads stderr until it holds text (true), or EOF or the timeout
	// (false); what was read is kept for wait().
	bool wait_stderr(const std::string &text, std::chrono::milliseconds timeout);
	// Waits for exit (killing it after timeout); returns the exit code and
	// collects the remaining stdout lines and stderr.
	int wait(std::chrono::milliseconds timeout, std::vector<std::string> &rest, std::string &err);
	void signal(int sig);
	int pid() const { return pid_; }
	// It has exited (not reaped yet: wait() still collects it).
	bool exited() const;
	// What it cost, once wait() has reaped it.
	const Usage &usage() const { return usage_; }

private:
	int pid_ = -1, out_ = -1, err_ = -1;
	bool eof_ = false;
	std::string buf_, err_buf_;
	std::chrono::steady_clock::time_point start_;
	Usage usage_;
};

// One JSON document per non-empty line (watch --json, trace --json).
std::vector<nlohmann::json> parse_json_lines(const std::vector<std::string> &lines);

// SO_COOKIE of a socket.
std::uint64_t socket_cookie(int fd);

// What a command that makes processes and namespaces (listenq demo) could
// leave behind: the netns inodes in use (/proc/*/ns/net), and processes
// named slow-server or burst-client.
struct ProcessTraces {
	std::set<std::uint64_t> netns;
	std::set<int> demo_pids;
};
ProcessTraces process_traces();
// "2 netns, 1 process (slow-server) left" or "" when after adds nothing.
std::string process_leftovers(const ProcessTraces &before, const ProcessTraces &after);

// TcpExt counter of this netns (/proc/net/netstat), or UINT64_MAX.
std::uint64_t netstat_counter(const std::string &name);

// net.core.somaxconn of this netns, from /proc (the kernel's own value:
// 4096 since 5.4, 128 before; a listen() backlog above it is clamped).
std::uint32_t netns_somaxconn();

}  // namespace listenq::testing
