// Reads a file of a pseudo filesystem (securityfs, tracefs) that is not
// mounted, without mounting it for anybody else: a child process mounts it
// in a private mount namespace, reads, and exits.
#pragma once

#include <optional>
#include <string>

namespace listenq {

std::optional<std::string> read_via_private_mount(const std::string &fstype, const std::string &mountpoint,
						  const std::string &file);

}  // namespace listenq
