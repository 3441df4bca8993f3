#include "util/privilege.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace listenq {

namespace {

constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

bool has_cap(const __user_cap_data_struct (&d)[2], int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

}  // namespace

bool has_bpf_privileges()
{
	__user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
	__user_cap_data_struct data[2]{};
	if (syscall(SYS_capget, &hdr, data) != 0)
		return false;
	return has_cap(data, kCapSysAdmin) || (has_cap(data, kCapBpf) && has_cap(data, kCapPerfmon));
}

std::string privilege_hint(const std::string &command)
{
	return "listenq " + command +
	       " loads BPF programs and needs root, or CAP_BPF and CAP_PERFMON (try: sudo listenq " + command + ")";
}

}  // namespace listenq
