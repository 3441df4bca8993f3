#include "sources/inet_diag.h"

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <cstring>
#include <functional>
#include <memory>

namespace listenq {

namespace {

constexpr int kTcpListen = 10;

struct MnlDeleter {
	void operator()(mnl_socket *s) const { mnl_socket_close(s); }
};

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
	const auto *nlh = reinterpret_cast<const nlmsghdr *>(buf.data());
	int left = static_cast<int>(buf.size());
	while (left > 0) {
		const std::size_t off = buf.size() - static_cast<std::size_t>(left);
		// mnl_nlmsg_ok() compares (int)nlmsg_len: a length >= 2^31 passes
		// as negative (found by tests/fuzz/fuzz_inet_diag), so check it
		// unsigned as well.
		if (!mnl_nlmsg_ok(nlh, left) || nlh->nlmsg_len > static_cast<std::uint32_t>(left))
			return Error{EBADMSG, "inet_diag: truncated netlink message at byte " + std::to_string(off)};
		if (nlh->nlmsg_type == NLMSG_DONE) {
			out.done = true;
			// A dump that failed midway reports its errno in DONE's payload.
			if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
				int e;
				std::memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof(e));
				out.error = errno_of(e);
			}
			return out;
		}
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr))
				return Error{EBADMSG, "inet_diag: short NLMSG_ERROR at byte " + std::to_string(off)};
			nlmsgerr e;
			std::memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof(e));
			out.error = errno_of(e.error);
			out.done = true;
			return out;
		}
		if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			return Error{EBADMSG, "inet_diag: unexpected message type " + std::to_string(nlh->nlmsg_type) +
						      " at byte " + std::to_string(off)};
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(inet_diag_msg))
			return Error{EBADMSG, "inet_diag: message at byte " + std::to_string(off) +
						      " shorter than struct inet_diag_msg"};
		inet_diag_msg m;
		std::memcpy(&m, mnl_nlmsg_get_payload(nlh), sizeof(m));
		if (m.idiag_family != AF_INET && m.idiag_family != AF_INET6)
			return Error{EBADMSG, "inet_diag: unknown family " + std::to_string(m.idiag_family) +
						      " at byte " + std::to_string(off)};
		Listener l = listener_from_diag(m);
		bool meminfo = false;
		// Attributes follow the fixed header; walk them with bounds checks.
		// The end is nlmsg_len itself: mnl_nlmsg_get_payload_tail() rounds
		// it up to 4, past the buffer for an unaligned last message (found
		// by tests/fuzz/fuzz_inet_diag).
		const char *tail = reinterpret_cast<const char *>(nlh) + nlh->nlmsg_len;
		for (auto *attr = static_cast<const nlattr *>(mnl_nlmsg_get_payload_offset(nlh, sizeof(inet_diag_msg)));
		     mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char *>(attr)));
		     attr = mnl_attr_next(attr)) {
			if (mnl_attr_get_type(attr) == INET_DIAG_SKMEMINFO &&
			    mnl_attr_get_payload_len(attr) >= (SK_MEMINFO_DROPS + 1) * sizeof(std::uint32_t)) {
				const auto *mem = static_cast<const std::uint32_t *>(mnl_attr_get_payload(attr));
				l.drops = mem[SK_MEMINFO_DROPS];
				meminfo = true;
			}
			if (mnl_attr_get_type(attr) == INET_DIAG_SKV6ONLY && mnl_attr_get_payload_len(attr) >= 1)
				l.ipv6only = mnl_attr_get_u8(attr) != 0;
		}
		out.listeners.push_back(std::move(l));
		out.has_meminfo.push_back(meminfo);
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	return out;
}

namespace {

// Sends one LISTEN dump request and hands every received buffer to
// on_buffer, which returns whether the dump is finished.
Result<void> run_dump(int family, std::uint16_t port,
		      const std::function<Result<bool>(std::span<const std::uint8_t>)> &on_buffer)
{
	std::unique_ptr<mnl_socket, MnlDeleter> nl(mnl_socket_open(NETLINK_SOCK_DIAG));
	if (!nl)
		return Error::from_errno(errno, "inet_diag: open NETLINK_SOCK_DIAG socket");
	if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
		return Error::from_errno(errno, "inet_diag: bind netlink socket");

	char req[MNL_SOCKET_BUFFER_SIZE];
	nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = static_cast<unsigned>(time(nullptr));
	auto *r = static_cast<inet_diag_req_v2 *>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
	r->sdiag_family = static_cast<std::uint8_t>(family);
	r->sdiag_protocol = IPPROTO_TCP;
	r->idiag_states = 1U << kTcpListen;
	r->idiag_ext = 1U << (INET_DIAG_SKMEMINFO - 1);
	r->id.idiag_sport = htons(port);  // 0 = any; inet_diag_dump_icsk skips other listeners
	if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0)
		return Error::from_errno(errno, "inet_diag: send dump request");

	std::vector<std::uint8_t> buf(64 * 1024);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
		if (n < 0)
			return Error::from_errno(errno, "inet_diag: receive");
		auto done = on_buffer({buf.data(), static_cast<std::size_t>(n)});
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
