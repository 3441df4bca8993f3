// inet_diag (NETLINK_SOCK_DIAG) reader for TCP listeners, on our own
// netlink client (sources/netlink.h says why not libmnl or libnl).
// "tcp_diag unavailable" is a state of the result, not an error.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/listener.h"
#include "util/result.h"

namespace listenq {

enum class DiagStatus {
	ok,           // tcp_diag answered (maybe with zero listeners)
	unavailable,  // ENOENT: no inet_diag/tcp_diag handler in this kernel
};

struct DiagDump {
	DiagStatus status = DiagStatus::ok;
	std::string detail;               // for unavailable: the kernel's answer
	std::vector<Listener> listeners;  // accept_queue = idiag_rqueue, backlog = idiag_wqueue
	// Per-listener extras from INET_DIAG_INFO, index-aligned with listeners
	// (tcpi_unacked = ack backlog, tcpi_sacked = max ack backlog on a listener).
	std::vector<bool> has_meminfo;
};

// One batch of netlink messages as received from the socket.
struct DiagBatch {
	std::vector<Listener> listeners;
	std::vector<bool> has_meminfo;
	bool done = false;  // NLMSG_DONE seen
	int error = 0;      // positive errno from NLMSG_ERROR, 0 if none
};

// Pure decoder of one recv() buffer of SOCK_DIAG_BY_FAMILY replies.
// Truncated or malformed messages are an error naming the offset.
Result<DiagBatch> decode_diag_batch(std::span<const std::uint8_t> buf);

// Raw replies (each recv() buffer) to one LISTEN dump request for family:
// what tests/fixtures holds. Stops after NLMSG_DONE or NLMSG_ERROR.
Result<std::vector<std::vector<std::uint8_t>>> dump_inet_diag_raw(int family, std::uint16_t port = 0);

// Dumps LISTEN sockets of the caller's netns for AF_INET and/or AF_INET6.
Result<DiagDump> read_inet_diag(const ListenerFilter &filter);

}  // namespace listenq
