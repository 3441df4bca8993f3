// A minimal netlink client: one socket, one request, a receive loop, and
// bounds-checked walks over the replies' messages and attributes.
//
// This replaces libmnl. Debian ships no libmnl.a, and the static build
// (LISTENQ_STATIC) uses the same code as the dynamic one. Why not
// libnl-idiag-3, which does ship a .a: idiagnl_send_simple() sends the
// legacy inet_diag_req (TCPDIAG_GETSOCK) with a zeroed socket id, so it
// cannot filter by port. Its attribute policy also ends at
// INET_DIAG_SHUTDOWN, so it has no SKV6ONLY, and it brings libnl-3's
// object and cache layer. We would still want our own fuzzed decoder, so
// libnl would only save the ~40 lines of socket code that are here.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "util/result.h"
#include "util/unique_fd.h"

namespace listenq::netlink {

// linux/netlink.h's NLMSG_HDRLEN and NLA_HDRLEN are ints.
constexpr std::size_t kMessageHeaderLen = NLMSG_HDRLEN;
constexpr std::size_t kAttrHeaderLen = NLA_HDRLEN;

// One message of a received buffer. The header is copied, so the buffer
// need not be aligned. payload is the nlmsg_len - NLMSG_HDRLEN bytes after
// the header.
struct Message {
	nlmsghdr hdr{};
	std::span<const std::uint8_t> payload;
};

// The message at byte off of buf, or nullopt if its header or nlmsg_len
// does not fit in what is left of buf (or nlmsg_len < NLMSG_HDRLEN).
std::optional<Message> message_at(std::span<const std::uint8_t> buf, std::size_t off);

// Where the message after the one at off starts (NLMSG_ALIGN). This can be
// past buf.size() when the last message's length is unaligned.
inline std::size_t next_message(std::size_t off, const Message &m)
{
	return off + NLMSG_ALIGN(m.hdr.nlmsg_len);
}

// Calls on_attr(type, payload) for each attribute in area, with the type
// masked by NLA_TYPE_MASK. It stops silently at the first attribute whose
// header or nla_len does not fit, as libmnl's mnl_attr_ok() did.
template <typename F>
void for_each_attr(std::span<const std::uint8_t> area, F &&on_attr)
{
	std::size_t off = 0;
	while (area.size() - off >= kAttrHeaderLen) {
		nlattr a;
		std::memcpy(&a, area.data() + off, sizeof(a));
		if (a.nla_len < kAttrHeaderLen || a.nla_len > area.size() - off)
			return;
		on_attr(static_cast<std::uint16_t>(a.nla_type & NLA_TYPE_MASK),
			area.subspan(off + kAttrHeaderLen, a.nla_len - kAttrHeaderLen));
		off += NLA_ALIGN(a.nla_len);
		if (off > area.size())
			return;
	}
}

// A netlink socket talking to the kernel (nl_pid 0).
class Socket {
public:
	// socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, protocol). The kernel
	// binds it to a port id at the first send.
	static Result<Socket> open(int protocol);
	// Sends one request.
	Result<void> send(std::span<const std::uint8_t> msg);
	// Receives one datagram into buf. A datagram larger than buf is an
	// error (ENOSPC), not a silent cut; one not from the kernel is skipped.
	Result<std::size_t> receive(std::span<std::uint8_t> buf);

private:
	explicit Socket(UniqueFd fd) : fd_(std::move(fd)) {}
	UniqueFd fd_;
};

}  // namespace listenq::netlink
