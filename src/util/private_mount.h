// Reads files of a pseudo filesystem (securityfs, tracefs) that is not
// mounted, without mounting it for anybody else: a child process mounts it
// in a private mount namespace, reads, and exits.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace listenq {

std::optional<std::string> read_via_private_mount(const std::string &fstype, const std::string &mountpoint,
						  const std::string &file);
// Several files of one mount: each one's text, "" where it cannot be read;
// nullopt when the filesystem cannot be mounted.
std::optional<std::vector<std::string>> read_via_private_mount(const std::string &fstype,
							       const std::string &mountpoint,
							       const std::vector<std::string> &files);

}  // namespace listenq
