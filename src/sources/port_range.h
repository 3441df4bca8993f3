// net.ipv4.ip_local_port_range of each network namespace, for folding
// ephemeral ports (`listenq export --group-by port`). The sysctl is per
// netns (a Kubernetes pod may set its own), and only readable from inside.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "model/port_groups.h"
#include "util/result.h"

namespace listenq {

class LocalPortRanges {
public:
	// Reads the range of this process's netns.
	LocalPortRanges();
	// The range of the netns with this inode: read once from inside it,
	// entered through /proc/PID/ns/net of pid (a process in it, e.g. the
	// listener's owner), and kept for 60 s. Where that cannot be done
	// (pid 0, gone, in another netns now), the range of listenq's own
	// netns is used, and reading is tried again after 5 s.
	// An error only when this thread could not come back to its netns.
	Result<PortRange> of(std::uint32_t netns, std::uint32_t pid);
	PortRange own() const { return own_; }

private:
	struct Entry {
		PortRange range;
		std::uint64_t until_ns = 0;  // monotonic
	};
	std::uint32_t own_netns_ = 0;
	PortRange own_;
	std::unordered_map<std::uint32_t, Entry> cache_;
};

}  // namespace listenq
