// Facts about the running kernel and this netns, read from /proc and /sys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "util/result.h"

namespace listenq {

struct KernelInfo {
	std::string release;        // uname -r
	std::string btf_source;     // "/sys/kernel/btf/vmlinux", a --btf path, or ""
	std::string btf_note;       // why btf_source is what it is
	std::string lockdown;       // "none", "integrity", "confidentiality", or "unknown"
	std::string lockdown_from;  // where lockdown was read
	std::optional<std::uint32_t> somaxconn;  // net.core.somaxconn of this netns
	std::uint32_t netns = 0;    // inode of /proc/self/ns/net
};

// "[none] integrity confidentiality" -> "none".
std::string parse_lockdown(const std::string &text);

KernelInfo read_kernel_info(const std::string &btf_override);

// The BTF that CO-RE relocations will use, or an error with the hint
// "pass --btf PATH". A given path must parse as BTF.
Result<std::string> resolve_btf(const std::string &btf_override);

std::uint32_t current_netns_inode();

}  // namespace listenq
