#include "sources/netlink.h"

#include <sys/socket.h>

#include <cerrno>

namespace listenq::netlink {

std::optional<Message> message_at(std::span<const std::uint8_t> buf, std::size_t off)
{
	if (off > buf.size() || buf.size() - off < kMessageHeaderLen)
		return std::nullopt;
	Message m;
	std::memcpy(&m.hdr, buf.data() + off, sizeof(m.hdr));
	// Compared unsigned: libmnl's mnl_nlmsg_ok() compared (int)nlmsg_len,
	// so a length >= 2^31 passed as negative (found by
	// tests/fuzz/fuzz_inet_diag).
	if (m.hdr.nlmsg_len < kMessageHeaderLen || m.hdr.nlmsg_len > buf.size() - off)
		return std::nullopt;
	m.payload = buf.subspan(off + kMessageHeaderLen, m.hdr.nlmsg_len - kMessageHeaderLen);
	return m;
}

Result<Socket> Socket::open(int protocol)
{
	UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, protocol));
	if (!fd.valid())
		return Error::from_errno(errno, "open netlink socket (protocol " + std::to_string(protocol) + ")");
	return Socket(std::move(fd));
}

Result<void> Socket::send(std::span<const std::uint8_t> msg)
{
	sockaddr_nl kernel{};
	kernel.nl_family = AF_NETLINK;
	if (::sendto(fd_.get(), msg.data(), msg.size(), 0, reinterpret_cast<const sockaddr *>(&kernel),
		     sizeof(kernel)) < 0)
		return Error::from_errno(errno, "send netlink request");
	return {};
}

Result<std::size_t> Socket::receive(std::span<std::uint8_t> buf)
{
	for (;;) {
		sockaddr_nl from{};
		socklen_t from_len = sizeof(from);
		// MSG_TRUNC: the datagram's real length, even when longer than buf.
		const ssize_t n = ::recvfrom(fd_.get(), buf.data(), buf.size(), MSG_TRUNC,
					     reinterpret_cast<sockaddr *>(&from), &from_len);
		if (n < 0)
			return Error::from_errno(errno, "receive netlink reply");
		if (static_cast<std::size_t>(n) > buf.size())
			return Error::from_errno(ENOSPC, "netlink reply of " + std::to_string(n) + " bytes");
		if (from_len == sizeof(from) && from.nl_pid == 0)
			return static_cast<std::size_t>(n);
	}
}

}  // namespace listenq::netlink
