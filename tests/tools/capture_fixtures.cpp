// Captures tests/fixtures/*_KERNEL.* from the running kernel: a fixed set
// of listeners in a private netns, read through iter/tcp, inet_diag (raw
// netlink replies) and /proc/net/tcp{,6}. Run as root:
//   build/tests/capture_fixtures tests/fixtures 6.18
// The unit tests assert the values this scenario sets up (SCENARIO below).
#include <sys/socket.h>

#include <fstream>
#include <iostream>
#include <vector>

#include "bpf/snapshot_reader.h"
#include "net_helpers.h"
#include "sources/inet_diag.h"
#include "util/files.h"

using namespace listenq;
using namespace listenq::testing;
using namespace std::chrono_literals;

namespace {

bool write_bytes(const std::string &path, const std::vector<std::uint8_t> &b)
{
	std::ofstream out(path, std::ios::binary);
	out.write(reinterpret_cast<const char *>(b.data()), static_cast<std::streamsize>(b.size()));
	std::cout << "wrote " << path << " (" << b.size() << " bytes)\n";
	return static_cast<bool>(out);
}

int die(const std::string &what)
{
	std::cerr << "capture_fixtures: " << what << '\n';
	return 1;
}

}  // namespace

int main(int argc, char **argv)
{
	if (argc != 3)
		return die("usage: capture_fixtures DIR KERNEL_TAG");
	const std::string dir = argv[1], tag = argv[2];
	if (auto r = enter_private_netns(); !r)
		return die(r.error().message);

	// SCENARIO (keep in sync with tests/unit/*_test.cpp):
	//  127.0.0.1:7001 backlog 17, 5 unaccepted clients
	//  [::1]:7002     backlog 9,  2 unaccepted clients
	//  0.0.0.0:7003   listen(100000) clamped to somaxconn 4096
	//  127.0.0.1:7004 x2 SO_REUSEPORT, backlogs 5 and 6
	std::vector<UniqueFd> keep;
	auto listen_or_die = [&](const char *a, std::uint16_t p, int b, bool rp = false) {
		auto l = make_listener(a, p, b, rp);
		if (!l) {
			std::cerr << l.error().message << '\n';
			std::exit(1);
		}
		int fd = l->get();
		keep.push_back(std::move(*l));
		return fd;
	};
	int l1 = listen_or_die("127.0.0.1", 7001, 17);
	int l2 = listen_or_die("::1", 7002, 9);
	listen_or_die("0.0.0.0", 7003, 100000);
	listen_or_die("127.0.0.1", 7004, 5, true);
	listen_or_die("127.0.0.1", 7004, 6, true);
	for (int i = 0; i < 5; i++)
		if (auto c = connect_to("127.0.0.1", 7001))
			keep.push_back(std::move(*c));
	for (int i = 0; i < 2; i++)
		if (auto c = connect_to("::1", 7002))
			keep.push_back(std::move(*c));
	if (!wait_until([&] { return accept_queue_by_tcp_info(l1) == 5 && accept_queue_by_tcp_info(l2) == 2; }, 2s))
		return die("clients did not reach the accept queues");

	auto iter = read_listener_records(BpfOptions{}, ListenerFilter{});
	if (!iter)
		return die(iter.error().message);
	write_bytes(dir + "/iter_tcp_" + tag + ".bin", iter->bytes);

	for (auto [family, name] : {std::pair{AF_INET, "v4"}, std::pair{AF_INET6, "v6"}}) {
		auto raw = dump_inet_diag_raw(family);
		if (!raw)
			return die(raw.error().message);
		std::vector<std::uint8_t> all;
		for (const auto &b : *raw)
			all.insert(all.end(), b.begin(), b.end());
		write_bytes(dir + "/inet_diag_" + std::string(name) + "_" + tag + ".bin", all);
	}
	// What iproute2 ss prints for this scenario, from inet_diag and (forced
	// with PROC_NET_TCP*) from /proc: the oracles of tests/unit/ss_render_test.
	const std::vector<std::pair<std::string, std::string>> ss_runs = {
		{"ss_lnt", "ss -lnt"},
		{"ss_lnt_proc", "PROC_NET_TCP=/proc/net/tcp PROC_NET_TCP6=/proc/net/tcp6 ss -lnt"},
	};
	for (const auto &[name, cmd] : ss_runs) {
		const std::string path = dir + "/" + name + "_" + tag + ".txt";
		if (std::system((cmd + " > " + path).c_str()) != 0)
			return die("failed: " + cmd);
		std::cout << "wrote " << path << '\n';
	}
	for (const char *f : {"tcp", "tcp6", "netstat"}) {
		auto text = read_file(std::string("/proc/net/") + f);
		if (!text)
			return die(text.error().message);
		std::ofstream(dir + "/proc_net_" + f + "_" + tag + ".txt") << *text;
		std::cout << "wrote " << dir << "/proc_net_" << f << "_" << tag << ".txt\n";
	}
	return 0;
}
