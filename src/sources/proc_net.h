// /proc/net/tcp{,6} LISTEN rows and /proc/net/{netstat,snmp} counters.
// Parsers take std::istream& so a fixture is a string.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include "model/counters.h"
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

Result<NetstatCounters> parse_netstat(std::istream &in);

// The listen-path counters of this netns (model/counters.h).
Result<ListenCounters> listen_counters_from(const NetstatCounters &c);
Result<ListenCounters> read_listen_counters(const std::string &proc_root = "/proc");
// The same from /proc/net/netstat's text, reading only its TcpExt pair of
// lines: what listen_counters_from(parse_netstat()) gives, without a map
// of every group (the tracer reads each netns's file every interval).
Result<ListenCounters> parse_listen_counters(std::string_view text);

}  // namespace listenq
