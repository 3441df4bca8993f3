#include "sources/kernel_info.h"

#include <bpf/btf.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "util/files.h"
#include "util/private_mount.h"

namespace listenq {

std::string parse_lockdown(const std::string &text)
{
	auto open = text.find('[');
	auto close = text.find(']', open == std::string::npos ? 0 : open);
	if (open == std::string::npos || close == std::string::npos)
		return "unknown";
	return text.substr(open + 1, close - open - 1);
}

std::uint32_t current_netns_inode()
{
	struct stat st;
	if (::stat("/proc/self/ns/net", &st) != 0)
		return 0;
	return static_cast<std::uint32_t>(st.st_ino);
}

Result<std::string> resolve_btf(const std::string &btf_override)
{
	if (!btf_override.empty()) {
		if (!path_exists(btf_override))
			return Error{ENOENT, "BTF file " + btf_override + " does not exist"};
		btf *b = btf__parse(btf_override.c_str(), nullptr);
		if (!b)
			return Error::from_errno(errno, "BTF file " + btf_override + " is not valid BTF or ELF with .BTF");
		btf__free(b);
		return btf_override;
	}
	if (path_exists("/sys/kernel/btf/vmlinux"))
		return std::string("/sys/kernel/btf/vmlinux");
	return Error{ENOENT, "this kernel exposes no BTF (/sys/kernel/btf/vmlinux missing)"};
}

KernelInfo read_kernel_info(const std::string &btf_override)
{
	KernelInfo k;
	struct utsname u;
	if (uname(&u) == 0)
		k.release = u.release;
	if (auto b = resolve_btf(btf_override)) {
		k.btf_source = *b;
		k.btf_note = btf_override.empty() ? "kernel" : "--btf";
	} else {
		k.btf_note = b.error().message;
	}
	if (auto l = read_first_line("/sys/kernel/security/lockdown")) {
		k.lockdown = parse_lockdown(*l);
		k.lockdown_from = "/sys/kernel/security/lockdown";
	} else if (auto m = read_via_private_mount("securityfs", "/sys/kernel/security", "lockdown")) {
		k.lockdown = parse_lockdown(*m);
		k.lockdown_from = "securityfs, mounted in a private mount namespace";
	} else if (auto cmd = read_first_line("/proc/cmdline")) {
		std::istringstream in(*cmd);
		std::string word;
		k.lockdown = "unknown";
		k.lockdown_from = "securityfs not mounted; no lockdown= on the kernel command line";
		while (in >> word)
			if (word.rfind("lockdown=", 0) == 0) {
				k.lockdown = word.substr(9);
				k.lockdown_from = "kernel command line (securityfs not mounted)";
			}
	}
	if (auto s = read_first_line("/proc/sys/net/core/somaxconn"))
		k.somaxconn = static_cast<std::uint32_t>(std::stoul(*s));
	k.netns = current_netns_inode();
	return k;
}

std::uint32_t linux_version_code(const std::string &release)
{
	unsigned major = 0, minor = 0, patch = 0;
	if (std::sscanf(release.c_str(), "%u.%u.%u", &major, &minor, &patch) < 2)
		return 0;
	return (major << 16) + (minor << 8) + std::min(patch, 255u);
}

std::uint32_t running_version_code()
{
	if (auto sig = read_first_line("/proc/version_signature")) {
		const std::size_t sp = sig->find_last_of(' ');
		if (std::uint32_t v = linux_version_code(sp == std::string::npos ? *sig : sig->substr(sp + 1)))
			return v;
	}
	struct utsname u;
	return uname(&u) == 0 ? linux_version_code(u.release) : 0;
}

}  // namespace listenq
