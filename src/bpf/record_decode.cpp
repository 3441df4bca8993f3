#include "bpf/record_decode.h"

#include <cstddef>
#include <cstring>
#include <string>

#include "listenq/abi.h"

namespace listenq {

// The layout is part of the BPF ABI: pin it.
static_assert(sizeof(lq_listener_rec) == 72);
static_assert(offsetof(lq_listener_rec, cookie) == 0);
static_assert(offsetof(lq_listener_rec, inode) == 8);
static_assert(offsetof(lq_listener_rec, netns) == 16);
static_assert(offsetof(lq_listener_rec, uid) == 20);
static_assert(offsetof(lq_listener_rec, ack_backlog) == 24);
static_assert(offsetof(lq_listener_rec, max_ack_backlog) == 28);
static_assert(offsetof(lq_listener_rec, syn_qlen) == 32);
static_assert(offsetof(lq_listener_rec, syn_young) == 36);
static_assert(offsetof(lq_listener_rec, drops) == 40);
static_assert(offsetof(lq_listener_rec, bound_dev_if) == 44);
static_assert(offsetof(lq_listener_rec, family) == 48);
static_assert(offsetof(lq_listener_rec, port) == 50);
static_assert(offsetof(lq_listener_rec, addr) == 52);
static_assert(offsetof(lq_listener_rec, reuseport) == 68);
static_assert(offsetof(lq_listener_rec, ipv6only) == 69);

Listener listener_from_record(const lq_listener_rec &rec)
{
	Listener l;
	set_endpoint(l, rec.family, rec.addr, rec.port);
	l.netns = rec.netns;
	l.cookie = rec.cookie;
	l.inode = rec.inode;
	l.uid = rec.uid;
	l.accept_queue = rec.ack_backlog;
	l.backlog = rec.max_ack_backlog;
	l.syn_queue = rec.syn_qlen;
	l.syn_young = rec.syn_young;
	l.drops = rec.drops;
	l.bound_dev_if = rec.bound_dev_if;
	l.reuseport = rec.reuseport != 0;
	l.ipv6only = rec.ipv6only != 0;
	return l;
}

Result<std::vector<Listener>> decode_listener_records(std::span<const std::uint8_t> bytes)
{
	constexpr std::size_t sz = sizeof(lq_listener_rec);
	if (bytes.size() % sz != 0)
		return Error{EPROTO, "decode listener records: " + std::to_string(bytes.size()) +
					     " bytes is not a multiple of the " + std::to_string(sz) +
					     "-byte record (truncated read or BPF/ABI mismatch)"};
	std::vector<Listener> out;
	out.reserve(bytes.size() / sz);
	for (std::size_t off = 0; off < bytes.size(); off += sz) {
		lq_listener_rec rec;
		std::memcpy(&rec, bytes.data() + off, sz);
		if (rec.family != 2 && rec.family != 10)
			return Error{EPROTO, "decode listener records: record " + std::to_string(off / sz) +
						     " has unknown family " + std::to_string(rec.family)};
		out.push_back(listener_from_record(rec));
	}
	return out;
}

}  // namespace listenq
