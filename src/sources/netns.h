// The machine's network namespaces, and running code inside one of them
// (iter/tcp walks only the netns of the thread that opens the iterator).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/result.h"

namespace listenq {

struct NetnsRef {
	std::uint32_t inode = 0;
	std::string path;  // an nsfs file that names it: /proc/PID/ns/net or /run/netns/NAME
};

// Every netns some process is in, or bound under run_netns (ip netns add),
// once each, sorted by inode. Processes that exit meanwhile are skipped.
std::vector<NetnsRef> list_netns(const std::string &proc_root = "/proc", const std::string &run_netns = "/run/netns");

// Runs fn with this thread in the netns named by path, then moves it back.
// An error from fn is returned. Failing to move back is an error with err
// ENOTRECOVERABLE: the thread is stranded in another netns, so stop.
Result<void> in_netns(const std::string &path, const std::function<Result<void>()> &fn);

}  // namespace listenq
