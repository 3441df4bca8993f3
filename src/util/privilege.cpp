#include "util/privilege.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

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

Result<std::string> keep_only_capabilities(const std::vector<int> &keep)
{
	static const std::pair<int, const char *> kNames[] = {
		{CAP_DAC_READ_SEARCH, "dac_read_search"}, {CAP_NET_BIND_SERVICE, "net_bind_service"},
		{CAP_SYS_PTRACE, "sys_ptrace"},		  {CAP_SYS_ADMIN, "sys_admin"},
		{CAP_SYS_RESOURCE, "sys_resource"},	  {kCapPerfmon, "perfmon"},
		{kCapBpf, "bpf"}};
	__user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
	__user_cap_data_struct data[2]{};
	if (syscall(SYS_capget, &hdr, data) != 0)
		return Error::from_errno(errno, "capget");
	auto kept = [&](int cap) { return std::find(keep.begin(), keep.end(), cap) != keep.end(); };
	// The bounding set first: dropping from it needs CAP_SETPCAP, which goes
	// below. Without it (a systemd unit or a pod that grants only listenq's
	// set) the bounding set stays: export execs nothing, and the effective
	// and permitted sets below are what count. Capabilities this kernel
	// does not know read as -1 (EINVAL).
	if (has_cap(data, CAP_SETPCAP))
		for (int cap = 0; cap < 64; cap++)
			if (!kept(cap) && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
			    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
				return Error::from_errno(errno, "prctl(PR_CAPBSET_DROP, " + std::to_string(cap) + ")");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		return Error::from_errno(errno, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
	std::string names;
	__user_cap_data_struct out[2]{};
	for (int cap = 0; cap < 64; cap++) {
		const std::uint32_t bit = 1U << (cap % 32);
		if (!kept(cap) || !(data[cap / 32].permitted & bit))
			continue;
		out[cap / 32].permitted |= bit;
		out[cap / 32].effective |= data[cap / 32].effective & bit;
		for (const auto &[c, name] : kNames)
			if (c == cap)
				names += (names.empty() ? "" : " ") + std::string(name);
	}
	if (syscall(SYS_capset, &hdr, out) != 0)
		return Error::from_errno(errno, "capset");
	return names;
}

}  // namespace listenq
