// Which processes hold a socket inode open: /proc/PID/fd/* -> "socket:[N]".
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/listener.h"

namespace listenq {

// "socket:[12345]" -> 12345, else 0.
std::uint64_t parse_socket_link(const std::string &link);

// Scans proc_root (normally "/proc") for fds whose link names one of the
// wanted inodes. Processes that vanish or deny access are skipped.
std::unordered_map<std::uint64_t, std::vector<ProcessRef>>
scan_socket_owners(const std::unordered_set<std::uint64_t> &wanted, const std::string &proc_root = "/proc");

// Fills Listener::processes for each listener.
void attach_owners(std::vector<Listener> &listeners, const std::string &proc_root = "/proc");

}  // namespace listenq
