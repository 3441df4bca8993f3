#include "sources/port_range.h"

#include <sys/stat.h>

#include "sources/kernel_info.h"
#include "sources/netns.h"
#include "util/clock.h"
#include "util/files.h"

namespace listenq {

namespace {

constexpr const char *kSysctl = "/proc/sys/net/ipv4/ip_local_port_range";
constexpr std::uint64_t kKeepNs = 60'000'000'000ULL;   // a range read
constexpr std::uint64_t kRetryNs = 5'000'000'000ULL;   // listenq's own, for want of it

std::optional<PortRange> read_here()
{
	auto text = read_file(kSysctl);
	return text ? parse_port_range(*text) : std::nullopt;
}

}  // namespace

LocalPortRanges::LocalPortRanges() : own_netns_(current_netns_inode())
{
	if (auto r = read_here())
		own_ = *r;
}

Result<PortRange> LocalPortRanges::of(std::uint32_t netns, std::uint32_t pid)
{
	if (netns == own_netns_ || netns == 0)
		return own_;
	const std::uint64_t now = monotonic_ns();
	if (auto it = cache_.find(netns); it != cache_.end() && now < it->second.until_ns)
		return it->second.range;
	std::optional<PortRange> range;
	const std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
	struct stat st{};
	if (pid && ::stat(path.c_str(), &st) == 0 && st.st_ino == netns) {
		auto r = in_netns(path, [&]() -> Result<void> {
			range = read_here();
			return {};
		});
		if (!r && r.error().err == ENOTRECOVERABLE)  // this thread is stranded in that netns
			return r.error().context("ip_local_port_range of netns " + std::to_string(netns));
	}
	cache_[netns] = range ? Entry{*range, now + kKeepNs} : Entry{own_, now + kRetryNs};
	return cache_[netns].range;
}

}  // namespace listenq
