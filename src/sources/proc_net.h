// /proc/net/tcp{,6} LISTEN rows and /proc/net/{netstat,snmp} counters.
// Parsers take std::istream& so a fixture is a string.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include "model/listener.h"
#include "util/result.h"

namespace listenq {

// LISTEN (st 0A) rows of /proc/net/tcp (family AF_INET) or tcp6 (AF_INET6).
// accept_queue = rx_queue; backlog = tx_queue, which the kernel prints as
// write_seq - snd_una, i.e. 0 for every listener (net/ipv4/tcp_ipv4.c
// get_tcp4_sock). Malformed lines are an error naming the line.
Result<std::vector<Listener>> parse_proc_net_tcp(std::istream &in, int family);

// Both files of this netns, filtered.
Result<std::vector<Listener>> read_proc_net_tcp(const ListenerFilter &filter, const std::string &proc_root = "/proc");

// "Prefix: name name ..." / "Prefix: value value ..." line pairs.
using NetstatCounters = std::map<std::string, std::map<std::string, std::uint64_t>>;
Result<NetstatCounters> parse_netstat(std::istream &in);

// The listen-path counters of this netns (TcpExt in /proc/net/netstat).
struct ListenCounters {
	std::uint64_t listen_overflows = 0;   // accept queue full (SYN or ACK path)
	std::uint64_t listen_drops = 0;       // all listener drops, ⊇ overflows
	std::uint64_t reqq_full_drop = 0;     // TCPReqQFullDrop: SYN queue full, no cookies
	std::uint64_t reqq_full_do_cookies = 0;  // TCPReqQFullDoCookies
	std::uint64_t syncookies_sent = 0;    // SyncookiesSent
	std::uint64_t syncookies_recv = 0;    // SyncookiesRecv: a cookie came back valid (handshake done)
	std::uint64_t syncookies_failed = 0;  // SyncookiesFailed: an ACK with a bad cookie
	std::uint64_t embryonic_rsts = 0;     // EmbryonicRsts: requests ended by a RST, sent or received
	std::uint64_t syn_retrans = 0;        // TCPSynRetrans: SYN and SYN-ACK retransmits
};
Result<ListenCounters> listen_counters_from(const NetstatCounters &c);
Result<ListenCounters> read_listen_counters(const std::string &proc_root = "/proc");

}  // namespace listenq
