// Ids of classic tracepoints ("sock/inet_sock_set_state"), which a
// perf_event_open(PERF_TYPE_TRACEPOINT) needs. Read from tracefs where it is
// mounted, else from a private mount (no mount is left for anybody).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "util/result.h"

namespace listenq {

// events: "category/name". Cached per process. An event missing from the
// result does not exist (or tracefs cannot be read: the error says).
Result<std::map<std::string, int>> tracepoint_ids(const std::vector<std::string> &events);

}  // namespace listenq
