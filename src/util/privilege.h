// Does this process hold what loading tracing BPF programs needs?
#pragma once

#include <string>
#include <vector>

#include "util/result.h"

namespace listenq {

// True with CAP_SYS_ADMIN, or with both CAP_BPF and CAP_PERFMON (5.8+).
bool has_bpf_privileges();
// One-line hint naming what is missing.
std::string privilege_hint(const std::string &command);

// Keeps only these capabilities (numbers as in linux/capability.h) in this
// thread's effective, permitted and inheritable sets, clears the ambient
// set and, when this process holds CAP_SETPCAP, drops the rest from the
// bounding set too (so no exec gets them back). Threads started later inherit the result; call it before any.
// Returns the names of those kept that this process held; an error names
// the call that failed.
Result<std::string> keep_only_capabilities(const std::vector<int> &keep);

}  // namespace listenq
