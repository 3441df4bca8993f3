// Output in the exact format of iproute2's `ss -lnt` / `ss -lntp` (6.1):
// same columns, delimiters, alignment and padding, so scripts that parse
// ss parse listenq ss. Only the numbers' source differs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "model/listener.h"

namespace listenq {

struct SsRow {
	std::uint32_t recv_q = 0;
	std::uint32_t send_q = 0;
	std::string local_addr;  // "0.0.0.0", "[::1]", "*", "127.0.0.1%lo"
	std::string local_port;  // "22", "ssh", "*"
	std::string peer_addr;   // "0.0.0.0", "[::]", "*"
	std::string peer_port = "*";
	std::string process;     // "" or `users:(("sshd",pid=612,fd=3))`
};

struct SsFormat {
	bool numeric = false;
	bool show_processes = false;
	bool header = true;  // -H: no header line, and it does not widen columns
	// ss resolves service names only outside ip_local_port_range.
	std::pair<int, int> ephemeral = {32768, 60999};
	std::function<std::string(std::uint16_t)> service_name;  // "" if none
	std::function<std::string(std::uint32_t)> ifname;
};

// One listener as ss prints it. ipv6only decides "*" vs "[::]" for the
// IPv6 wildcard, as ss does (/proc does not say, so ss assumes false).
SsRow ss_row_from_listener(const Listener &l, const SsFormat &f);

// `users:(("comm",pid=N,fd=M),...)`, entries in ss's order (descending
// pid, then fd: ss prepends while scanning /proc in ascending order).
std::string ss_users(std::vector<ProcessRef> procs);

// screen_width < 0: not a tty, compact columns (what pipes and tests see).
std::string render_ss(const std::vector<SsRow> &rows, const SsFormat &f, int screen_width = -1);

// ip_local_port_range of this netns, or ss's fallback.
std::pair<int, int> read_ephemeral_range();

}  // namespace listenq
