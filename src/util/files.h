// Small file helpers for /proc and /sys.
#pragma once

#include <optional>
#include <string>

#include "util/result.h"

namespace listenq {

// Whole file as a string; error names the path.
Result<std::string> read_file(const std::string &path);
// First line without the trailing newline, or nullopt if unreadable.
std::optional<std::string> read_first_line(const std::string &path);
// Writes text to path (for sysctls in tests and helpers).
Result<void> write_file(const std::string &path, const std::string &text);
bool path_exists(const std::string &path);

}  // namespace listenq
