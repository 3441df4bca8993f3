// Plain data describing listening sockets, independent of where it came from.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace listenq {

// A process's cgroup and what its path says (sources/cgroup.h). Empty
// strings: not in the path. One object per distinct cgroup, shared by
// the processes and listeners in it.
struct CgroupInfo {
	std::string path;          // as /proc/PID/cgroup has it; "" when unreadable
	std::string hierarchy;     // "v2", or the v1 controllers the path came from ("name=systemd", "memory")
	std::string runtime;       // docker, containerd, cri-o, podman ("" for a bare id: cgroupfs kubepods, ECS)
	std::string container_id;  // 64 hex digits
	std::string pod_uid;       // Kubernetes pod UID, with dashes
	std::string qos;           // guaranteed, burstable, besteffort (with pod_uid)
	std::string unit;          // innermost systemd unit that is not a container scope
	// From the container runtime's state (sources/container_names.h), ""
	// where it names none: Kubernetes pod, its namespace, the container.
	std::string pod;
	std::string pod_namespace;
	std::string container;
	bool operator==(const CgroupInfo &) const = default;
};

struct ProcessRef {
	int pid = 0;
	int fd = -1;
	std::string comm;
	std::shared_ptr<const CgroupInfo> cgroup = nullptr;  // snapshot -p only (attach_cgroups)
	bool operator==(const ProcessRef &) const = default;
};

struct Listener {
	int family = 0;                     // AF_INET or AF_INET6
	std::array<std::uint8_t, 16> addr{};  // network order; IPv4 in [0..3]
	std::uint16_t port = 0;
	std::uint32_t netns = 0;            // netns inode
	std::uint64_t cookie = 0;           // socket cookie (join key with inet_diag)
	std::uint64_t inode = 0;            // socket inode (join key with /proc)
	std::uint32_t uid = 0;
	std::uint32_t accept_queue = 0;     // sk_ack_backlog
	std::uint32_t backlog = 0;          // sk_max_ack_backlog
	std::uint32_t syn_queue = 0;        // icsk_accept_queue.qlen
	std::uint32_t syn_young = 0;        // icsk_accept_queue.young
	std::uint32_t drops = 0;            // sk_drops
	std::uint32_t bound_dev_if = 0;
	bool reuseport = false;
	bool ipv6only = false;
	std::vector<ProcessRef> processes;  // filled only when asked (-p)
	bool operator==(const Listener &) const = default;
};

// Sets family, address (16 bytes as BPF records carry them; only the first
// 4 count for IPv4, the rest is cleared) and port.
void set_endpoint(Listener &l, int family, const std::uint8_t *addr16, std::uint16_t port);

// "0.0.0.0", "::", "::ffff:127.0.0.1" ...
std::string format_address(int family, const std::array<std::uint8_t, 16> &addr);
// ss style: "0.0.0.0:22", "[::]:22", "127.0.0.1%lo:53" (ifname when known).
std::string format_endpoint(const Listener &l, const std::string &port_text,
			    const std::string &ifname = {});

struct ListenerFilter {
	bool ipv4 = true;
	bool ipv6 = true;
	std::optional<std::uint16_t> port;
	bool matches(const Listener &l) const;
};

// Stable order for every output: port, family (v4 first), address, cookie.
void sort_listeners(std::vector<Listener> &v);

struct Snapshot {
	std::string source;        // "iter/tcp", "iter/task_file", "inet_diag"
	std::uint32_t netns = 0;   // netns inode of the reader
	std::vector<Listener> listeners;
	bool processes_resolved = false;  // Listener::processes filled (-p)
	bool syn_queue_known = true;      // inet_diag has no SYN queue (shown as unknown)
	std::vector<std::string> notes;   // sources refused and what that loses
};

}  // namespace listenq
