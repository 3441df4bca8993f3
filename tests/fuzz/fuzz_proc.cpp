// libFuzzer target: the /proc text parsers (net/tcp, net/tcp6, net/netstat,
// the lockdown file, fd symlinks). Any input must give a value or an Error,
// never a crash or a sanitizer report.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "sources/kernel_info.h"
#include "sources/proc_net.h"
#include "sources/proc_owners.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::string text(reinterpret_cast<const char *>(data), size);
	for (int family : {AF_INET, AF_INET6}) {
		std::istringstream in(text);
		if (auto r = listenq::parse_proc_net_tcp(in, family))
			for (const auto &l : *r)
				if (l.family != family)
					__builtin_trap();  // a row of the other family: a parser bug
	}
	{
		std::istringstream in(text);
		if (auto c = listenq::parse_netstat(in))
			(void)listenq::listen_counters_from(*c);
	}
	(void)listenq::parse_lockdown(text);
	(void)listenq::parse_socket_link(text);
	return 0;
}
