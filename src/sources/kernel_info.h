// Facts about the running kernel and this netns, read from /proc and /sys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model/kernel_info.h"
#include "util/result.h"

namespace listenq {

// "[none] integrity confidentiality" -> "none".
std::string parse_lockdown(const std::string &text);

KernelInfo read_kernel_info(const std::string &btf_override);

// The BTF that CO-RE relocations will use, or an error with the hint
// "pass --btf PATH". A given path must parse as BTF.
Result<std::string> resolve_btf(const std::string &btf_override);

std::uint32_t current_netns_inode();

// LINUX_VERSION_CODE of a release string ("4.19.48-lq" -> 0x041330; the
// sublevel saturates at 255 as the kernel's KERNEL_VERSION does), or 0 when
// it does not start with two numbers. Ubuntu's uname hides the upstream
// sublevel; /proc/version_signature names it ("Ubuntu 4.15.0-55.60-generic
// 4.15.18"): pass its last word when present.
std::uint32_t linux_version_code(const std::string &release);

// The running kernel's LINUX_VERSION_CODE (uname, or Ubuntu's
// /proc/version_signature). Before 5.0 a BPF_PROG_TYPE_KPROBE load must
// carry it as kern_version, or the kernel answers EINVAL.
std::uint32_t running_version_code();

}  // namespace listenq
