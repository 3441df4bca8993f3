// What listenq knows of the running kernel and this netns (read by
// sources/kernel_info.h; shown by probe and the headers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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

}  // namespace listenq
