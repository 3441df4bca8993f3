// libFuzzer target: the /proc text parsers (net/tcp, net/tcp6, net/netstat,
// the lockdown file, fd symlinks, PID/cgroup, mounts). Any input must give a value or an Error,
// never a crash or a sanitizer report.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "sources/cgroup.h"
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
	{
		std::istringstream in(text);
		if (auto lines = listenq::parse_proc_cgroup(in)) {
			const listenq::CgroupInfo c = listenq::cgroup_of(*lines);
			if (!c.container_id.empty() && c.container_id.size() != 64)
				__builtin_trap();  // ids are 64 hex digits, nothing else
		}
		std::istringstream mounts(text);
		(void)listenq::cgroup_v2_mount(mounts);
	}
	(void)listenq::parse_lockdown(text);
	(void)listenq::parse_socket_link(text);
	return 0;
}
