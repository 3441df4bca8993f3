// Which container, pod or systemd unit a process runs in, from
// /proc/PID/cgroup: the parsers are pure (std::istream&, so a fixture is a
// string), and CgroupCache reads each pid once per pass and shares one
// CgroupInfo per distinct cgroup.
#pragma once

#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/listener.h"
#include "util/result.h"

namespace listenq {

// One line of /proc/PID/cgroup: "hierarchy-ID:controllers:path". The v2
// line is "0::/path"; v1 lines name their controllers ("4:memory:/docker/ID",
// "1:name=systemd:/system.slice/x.service").
struct CgroupLine {
	int hierarchy = 0;
	std::string controllers;
	std::string path;
	bool is_v2() const { return hierarchy == 0 && controllers.empty(); }
	bool operator==(const CgroupLine &) const = default;
};

// Every line, in file order. A malformed line is an error naming it. The
// kernel's " (deleted)" mark on a removed v2 cgroup is dropped.
Result<std::vector<CgroupLine>> parse_proc_cgroup(std::istream &in);

// Mount point of the first cgroup2 mount in /proc/mounts (octal escapes
// such as \040 decoded), or nullopt: no cgroup v2 hierarchy is mounted.
std::optional<std::string> cgroup_v2_mount(std::istream &mounts);

// What one path says, matched on its components anywhere in the path:
// container scopes and ids (docker, containerd/CRI, CRI-O, podman, nerdctl),
// kubepods pod slices or directories (pod UID and QoS class), and the
// innermost systemd unit that is not a container scope.
CgroupInfo classify_cgroup(std::string_view path);

// The process's cgroup from all its lines: the v2 path when it names a
// container; else the first of the v1 lines (name=systemd first) that
// does; else the first (v2, name=systemd, others) that names a pod or a
// unit; else the v2 path (or the first line's) as it is.
CgroupInfo cgroup_of(const std::vector<CgroupLine> &lines);

// proc_root/PID/cgroup read and classified.
Result<CgroupInfo> read_process_cgroup(std::uint32_t pid, const std::string &proc_root = "/proc");

// Interned cgroups of processes. of_pid() reads a pid at most once per
// pass (end_pass() forgets the pids: a pid can be reused by another
// process), and every pid of one cgroup gets the same object. A
// container's names (pod, namespace, container) are read from its
// runtime's state under runtime_root once, when its cgroup is first seen;
// runtime_root "" is proc_root/1/root (the host's root, from a container
// with hostPID too), or "/" where that cannot be entered.
class CgroupCache {
public:
	explicit CgroupCache(std::string proc_root = "/proc", std::string runtime_root = "");
	// Never null: a pid that cannot be read (gone, no access) gets an
	// info whose path is "".
	const std::shared_ptr<const CgroupInfo> &of_pid(std::uint32_t pid);
	void end_pass() { pids_.clear(); }

	// Cgroups held by the cache (for the owner of raw pointers to decide
	// when to sweep).
	std::size_t size() const { return by_path_.size(); }
	bool sweep_due() const { return by_path_.size() >= sweep_at_; }
	// Forgets the cgroups not in in_use; pointers to them dangle after.
	void keep_only(const std::unordered_set<const CgroupInfo *> &in_use);

private:
	std::string proc_root_;
	std::string runtime_root_;
	std::shared_ptr<const CgroupInfo> unknown_;
	std::unordered_map<std::uint32_t, std::shared_ptr<const CgroupInfo>> pids_;
	std::unordered_map<std::string, std::shared_ptr<const CgroupInfo>> by_path_;  // key: hierarchy + path
	std::size_t sweep_at_ = 64;
};

// Fills ProcessRef::cgroup of every listener's processes (snapshot -p).
void attach_cgroups(std::vector<Listener> &listeners, const std::string &proc_root = "/proc",
		    const std::string &runtime_root = "");

}  // namespace listenq
