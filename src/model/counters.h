// A netns's SNMP counters (read by sources/proc_net.h from
// /proc/net/{netstat,snmp}; compared and attributed by verify, doctor and
// the SYN attribution).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace listenq {

// "Prefix: name name ..." / "Prefix: value value ..." line pairs, by prefix
// then name.
using NetstatCounters = std::map<std::string, std::map<std::string, std::uint64_t>>;

// The listen-path counters of a netns (TcpExt in /proc/net/netstat).
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
	bool operator==(const ListenCounters &) const = default;
};

// The rise from b to a, counter by counter; 0 where a counter went back
// (a netns made again under the same inode).
inline ListenCounters rise(const ListenCounters &a, const ListenCounters &b)
{
	auto d = [](std::uint64_t x, std::uint64_t y) { return x >= y ? x - y : 0; };
	ListenCounters r;
	r.listen_overflows = d(a.listen_overflows, b.listen_overflows);
	r.listen_drops = d(a.listen_drops, b.listen_drops);
	r.reqq_full_drop = d(a.reqq_full_drop, b.reqq_full_drop);
	r.reqq_full_do_cookies = d(a.reqq_full_do_cookies, b.reqq_full_do_cookies);
	r.syncookies_sent = d(a.syncookies_sent, b.syncookies_sent);
	r.syncookies_recv = d(a.syncookies_recv, b.syncookies_recv);
	r.syncookies_failed = d(a.syncookies_failed, b.syncookies_failed);
	r.embryonic_rsts = d(a.embryonic_rsts, b.embryonic_rsts);
	r.syn_retrans = d(a.syn_retrans, b.syn_retrans);
	return r;
}

}  // namespace listenq
