// Does this process hold what loading tracing BPF programs needs?
#pragma once

#include <string>

namespace listenq {

// True with CAP_SYS_ADMIN, or with both CAP_BPF and CAP_PERFMON (5.8+).
bool has_bpf_privileges();
// One-line hint naming what is missing.
std::string privilege_hint(const std::string &command);

}  // namespace listenq
