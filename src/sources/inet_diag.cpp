#include "sources/inet_diag.h"

#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "sources/netlink.h"

namespace listenq {

namespace {

constexpr int kTcpListen = 10;

Listener listener_from_diag(const inet_diag_msg &m)
{
	Listener l;
	l.family = m.idiag_family;
	std::memcpy(l.addr.data(), m.id.idiag_src, m.idiag_family == AF_INET6 ? 16 : 4);
	l.port = ntohs(m.id.idiag_sport);
	l.bound_dev_if = m.id.idiag_if;
	l.cookie = static_cast<std::uint64_t>(m.id.idiag_cookie[0]) |
		   (static_cast<std::uint64_t>(m.id.idiag_cookie[1]) << 32);
	l.inode = m.idiag_inode;
	l.uid = m.idiag_uid;
	l.accept_queue = m.idiag_rqueue;
	l.backlog = m.idiag_wqueue;
	return l;
}

}  // namespace

namespace {

// A kernel errno travels negated (-4095..-1); anything below is no errno
// (and negating INT_MIN is undefined: found by tests/fuzz/fuzz_inet_diag).
int errno_of(int negated)
{
	if (negated >= 0)
		return 0;
	return negated >= -4095 ? -negated : EPROTO;
}

}  // namespace

Result<DiagBatch> decode_diag_batch(std::span<const std::uint8_t> buf)
{
	DiagBatch out;
	for (std::size_t off = 0; off < buf.size();) {
		// message_at() checks nlmsg_len unsigned: libmnl's mnl_nlmsg_ok()
		// compared (int)nlmsg_len, and a length >= 2^31 passed as negative
		// (found by tests/fuzz/fuzz_inet_diag).
		const auto msg = netlink::message_at(buf, off);
		if (!msg)
			return Error{EBADMSG, "inet_diag: truncated netlink message at byte " + std::to_string(off)};
		const nlmsghdr &nlh = msg->hdr;
		if (nlh.nlmsg_type == NLMSG_DONE) {
			out.done = true;
			// A dump that failed midway reports its errno in DONE's payload.
			if (msg->payload.size() >= sizeof(int)) {
				int e;
				std::memcpy(&e, msg->payload.data(), sizeof(e));
				out.error = errno_of(e);
			}
			return out;
		}
		if (nlh.nlmsg_type == NLMSG_ERROR) {
			if (msg->payload.size() < sizeof(nlmsgerr))
				return Error{EBADMSG, "inet_diag: short NLMSG_ERROR at byte " + std::to_string(off)};
			nlmsgerr e;
			std::memcpy(&e, msg->payload.data(), sizeof(e));
			out.error = errno_of(e.error);
			out.done = true;
			return out;
		}
		if (nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY)
			return Error{EBADMSG, "inet_diag: unexpected message type " + std::to_string(nlh.nlmsg_type) +
						      " at byte " + std::to_string(off)};
		if (msg->payload.size() < sizeof(inet_diag_msg))
			return Error{EBADMSG, "inet_diag: message at byte " + std::to_string(off) +
						      " shorter than struct inet_diag_msg"};
		inet_diag_msg m;
		std::memcpy(&m, msg->payload.data(), sizeof(m));
		if (m.idiag_family != AF_INET && m.idiag_family != AF_INET6)
			return Error{EBADMSG, "inet_diag: unknown family " + std::to_string(m.idiag_family) +
						      " at byte " + std::to_string(off)};
		Listener l = listener_from_diag(m);
		bool meminfo = false;
		// Attributes follow the fixed header, up to nlmsg_len itself: libmnl's
		// mnl_nlmsg_get_payload_tail() rounded it up to 4, past the buffer for
		// an unaligned last message (found by tests/fuzz/fuzz_inet_diag).
		const auto attrs = msg->payload.subspan(std::min<std::size_t>(NLMSG_ALIGN(sizeof(m)), msg->payload.size()));
		netlink::for_each_attr(attrs, [&](std::uint16_t type, std::span<const std::uint8_t> p) {
			if (type == INET_DIAG_SKMEMINFO && p.size() >= (SK_MEMINFO_DROPS + 1) * sizeof(std::uint32_t)) {
				std::memcpy(&l.drops, p.data() + SK_MEMINFO_DROPS * sizeof(std::uint32_t), sizeof(std::uint32_t));
				meminfo = true;
			}
			if (type == INET_DIAG_SKV6ONLY && !p.empty())
				l.ipv6only = p[0] != 0;
		});
		out.listeners.push_back(std::move(l));
		out.has_meminfo.push_back(meminfo);
		off = netlink::next_message(off, *msg);
	}
	return out;
}

namespace {

// One LISTEN dump request: an nlmsghdr and an inet_diag_req_v2.
struct DumpRequest {
	nlmsghdr hdr;
	inet_diag_req_v2 req;
};
static_assert(sizeof(DumpRequest) == NLMSG_HDRLEN + sizeof(inet_diag_req_v2), "no padding between the two");

// Sends one LISTEN dump request and hands every received buffer to
// on_buffer, which returns whether the dump is finished.
Result<void> run_dump(int family, std::uint16_t port,
		      const std::function<Result<bool>(std::span<const std::uint8_t>)> &on_buffer)
{
	auto nl = netlink::Socket::open(NETLINK_SOCK_DIAG);
	if (!nl)
		return nl.error().context("inet_diag");

	DumpRequest d{};
	d.hdr.nlmsg_len = sizeof(d);
	d.hdr.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	d.hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	d.hdr.nlmsg_seq = static_cast<unsigned>(time(nullptr));
	d.req.sdiag_family = static_cast<std::uint8_t>(family);
	d.req.sdiag_protocol = IPPROTO_TCP;
	d.req.idiag_states = 1U << kTcpListen;
	d.req.idiag_ext = 1U << (INET_DIAG_SKMEMINFO - 1);
	d.req.id.idiag_sport = htons(port);  // 0 = any; inet_diag_dump_icsk skips other listeners
	if (auto r = nl->send({reinterpret_cast<const std::uint8_t *>(&d), sizeof(d)}); !r)
		return r.error().context("inet_diag");

	std::vector<std::uint8_t> buf(64 * 1024);
	for (;;) {
		auto n = nl->receive(buf);
		if (!n)
			return n.error().context("inet_diag");
		auto done = on_buffer({buf.data(), *n});
		if (!done)
			return done.error();
		if (*done)
			return {};
	}
}

}  // namespace

Result<std::vector<std::vector<std::uint8_t>>> dump_inet_diag_raw(int family, std::uint16_t port)
{
	std::vector<std::vector<std::uint8_t>> out;
	auto r = run_dump(family, port, [&](std::span<const std::uint8_t> b) -> Result<bool> {
		out.emplace_back(b.begin(), b.end());
		auto batch = decode_diag_batch(b);
		if (!batch)
			return batch.error();
		return batch->done;
	});
	if (!r)
		return r.error();
	return out;
}

Result<DiagDump> read_inet_diag(const ListenerFilter &filter)
{
	DiagDump dump;
	for (int family : {AF_INET, AF_INET6}) {
		if ((family == AF_INET && !filter.ipv4) || (family == AF_INET6 && !filter.ipv6))
			continue;
		int kernel_error = 0;
		auto r = run_dump(family, filter.port.value_or(0), [&](std::span<const std::uint8_t> b) -> Result<bool> {
			auto batch = decode_diag_batch(b);
			if (!batch)
				return batch.error();
			for (std::size_t i = 0; i < batch->listeners.size(); i++) {
				if (!filter.matches(batch->listeners[i]))
					continue;
				dump.listeners.push_back(std::move(batch->listeners[i]));
				dump.has_meminfo.push_back(batch->has_meminfo[i]);
			}
			kernel_error = batch->error;
			return batch->done;
		});
		if (!r)
			return r.error();
		if (kernel_error == ENOENT) {
			dump.status = DiagStatus::unavailable;
			dump.detail = "kernel answered ENOENT to SOCK_DIAG_BY_FAMILY/TCP (no tcp_diag module)";
			dump.listeners.clear();
			dump.has_meminfo.clear();
			return dump;
		}
		if (kernel_error)
			return Error::from_errno(kernel_error, std::string("inet_diag: dump ") +
								       (family == AF_INET6 ? "AF_INET6" : "AF_INET"));
	}
	return dump;
}

}  // namespace listenq
