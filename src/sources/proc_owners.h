// Which processes hold a socket inode open: /proc/PID/fd/* -> "socket:[N]".
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/listener.h"

namespace listenq {

// "socket:[12345]" -> 12345, else 0.
std::uint64_t parse_socket_link(const std::string &link);

// Calls fn for each open fd in proc_root (normally "/proc") whose link
// names a socket inode that wanted accepts: one pass, nothing kept.
// Processes that vanish or deny access are skipped.
void each_socket_fd(const std::function<bool(std::uint64_t inode)> &wanted,
		    const std::function<void(std::uint64_t inode, const ProcessRef &who)> &fn,
		    const std::string &proc_root = "/proc");

// Scans proc_root (normally "/proc") for fds whose link names one of the
// wanted inodes. Processes that vanish or deny access are skipped.
std::unordered_map<std::uint64_t, std::vector<ProcessRef>>
scan_socket_owners(const std::unordered_set<std::uint64_t> &wanted, const std::string &proc_root = "/proc");

// "/usr/bin/python3 -m gunicorn app:app" from /proc/PID/cmdline; empty when
// the process is gone or unreadable.
std::string read_cmdline(std::uint32_t pid, const std::string &proc_root = "/proc");

// "S (sleeping)" from /proc/PID/status; empty when gone.
std::string read_process_state(std::uint32_t pid, const std::string &proc_root = "/proc");

// A numeric sysctl of the netns this thread is in, e.g.
// "net/core/somaxconn"; nullopt when missing or not a number.
std::optional<std::uint32_t> read_sysctl_u32(const std::string &name);

// Fills Listener::processes for each listener.
void attach_owners(std::vector<Listener> &listeners, const std::string &proc_root = "/proc");

}  // namespace listenq
