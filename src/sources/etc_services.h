// /etc/services, parsed here rather than through getservent(3): a static
// glibc cannot load another system's NSS modules, and both builds share
// this one code path. It reads the file only, which is NSS's "services:
// files" (the default on Debian and RHEL alike).
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <unordered_map>

namespace listenq {

// Port -> service name, for the entries of protocol proto. As with
// getservbyport(), the first entry for a port wins. Lines are
// "name port/proto [aliases...] [# comment]"; anything else is skipped.
std::unordered_map<std::uint16_t, std::string> parse_services(std::istream &in, std::string_view proto = "tcp");

// The lookups snapshot and ss are given: /etc/services, read once (no NSS),
// and if_indextoname(3) (an ioctl, no NSS; the index as text if unknown).
std::string system_service_name(std::uint16_t port);
std::string system_ifname(std::uint32_t ifindex);

}  // namespace listenq
