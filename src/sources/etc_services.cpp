#include "sources/etc_services.h"

#include <net/if.h>

#include <fstream>
#include <sstream>

namespace listenq {

namespace {

// "80/tcp" -> 80 when the protocol is proto.
bool parse_port_proto(const std::string &field, std::string_view proto, std::uint16_t &port)
{
	const std::size_t slash = field.find('/');
	if (slash == 0 || slash == std::string::npos || std::string_view(field).substr(slash + 1) != proto)
		return false;
	unsigned v = 0;
	for (std::size_t i = 0; i < slash; i++) {
		if (field[i] < '0' || field[i] > '9' || i >= 5)
			return false;
		v = v * 10 + static_cast<unsigned>(field[i] - '0');
	}
	if (v > 65535)
		return false;
	port = static_cast<std::uint16_t>(v);
	return true;
}

}  // namespace

std::unordered_map<std::uint16_t, std::string> parse_services(std::istream &in, std::string_view proto)
{
	std::unordered_map<std::uint16_t, std::string> names;
	for (std::string line; std::getline(in, line);) {
		if (const std::size_t hash = line.find('#'); hash != std::string::npos)
			line.resize(hash);
		std::istringstream fields(line);
		std::string name, port_proto;
		std::uint16_t port;
		if (fields >> name >> port_proto && parse_port_proto(port_proto, proto, port))
			names.emplace(port, name);
	}
	return names;
}

std::string system_service_name(std::uint16_t port)
{
	// Read once: getservbyport() re-read /etc/services on every call (16%
	// of a 10k listener snapshot). parse_services() instead of getservent()
	// also keeps NSS out of the static build (sources/etc_services.h).
	static const std::unordered_map<std::uint16_t, std::string> names = [] {
		std::ifstream in("/etc/services");
		return parse_services(in);
	}();
	auto it = names.find(port);
	return it == names.end() ? "" : it->second;
}

std::string system_ifname(std::uint32_t ifindex)
{
	char buf[IF_NAMESIZE] = {};
	return if_indextoname(ifindex, buf) ? buf : std::to_string(ifindex);
}

}  // namespace listenq
