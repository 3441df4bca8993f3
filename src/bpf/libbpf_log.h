// Routes libbpf's messages: kept (last lines) for error reports, printed
// to stderr only with --verbose.
#pragma once

#include <string>

namespace listenq {

void install_libbpf_logger(bool verbose);
// Last warning/info lines libbpf printed (for "why did load fail").
std::string libbpf_recent_log();
void clear_libbpf_log();

}  // namespace listenq
