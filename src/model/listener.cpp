#include "model/listener.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <tuple>

namespace listenq {

std::string format_address(int family, const std::array<std::uint8_t, 16> &addr)
{
	// IPv4 by hand: inet_ntop() formats it with sprintf, a tenth of a
	// 50k-listener snapshot's rendering. Same text.
	if (family != AF_INET6) {
		std::string out;
		out.reserve(15);
		for (int i = 0; i < 4; i++) {
			if (i)
				out += '.';
			const unsigned v = addr[i];
			if (v >= 100)
				out += static_cast<char>('0' + v / 100);
			if (v >= 10)
				out += static_cast<char>('0' + v / 10 % 10);
			out += static_cast<char>('0' + v % 10);
		}
		return out;
	}
	char buf[INET6_ADDRSTRLEN] = {};
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof(buf)))
		return "?";
	return buf;
}

std::string format_endpoint(const Listener &l, const std::string &port_text,
			    const std::string &ifname)
{
	std::string a = format_address(l.family, l.addr);
	if (!ifname.empty())
		a += "%" + ifname;
	if (l.family == AF_INET6)
		a = "[" + a + "]";
	return a + ":" + port_text;
}

void set_endpoint(Listener &l, int family, const std::uint8_t *addr16, std::uint16_t port)
{
	l.family = family;
	l.addr.fill(0);
	std::copy(addr16, addr16 + (family == AF_INET6 ? 16 : 4), l.addr.begin());
	l.port = port;
}

bool ListenerFilter::matches(const Listener &l) const
{
	if (l.family == AF_INET && !ipv4)
		return false;
	if (l.family == AF_INET6 && !ipv6)
		return false;
	return !port || *port == l.port;
}

void sort_listeners(std::vector<Listener> &v)
{
	std::sort(v.begin(), v.end(), [](const Listener &a, const Listener &b) {
		return std::tie(a.port, a.family, a.addr, a.cookie, a.inode) <
		       std::tie(b.port, b.family, b.addr, b.cookie, b.inode);
	});
}

}  // namespace listenq
