// A scrape of 3000 listeners for the tests of export's streamed body
// (prom_stream_test.cpp, http_stream_test.cpp).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "render/prom_render.h"

namespace listenq::testing {

// Every kind of label and value: IPv4 and IPv6, reuseport groups of 3,
// ports past 32768 (folded by port), cgroups, escaped and invalid-UTF-8
// comms, pointer keys (cookie="ino:..."), a requested backlog or none,
// histograms, sub-second waits, big counters.
std::vector<ListenerStat> fixture_listeners(int n);

// The bodies compared, by name: per listener (every series), per listener
// in tier 3 (default series), per port (full and default, after a second
// scrape in which members went: retired counts).
std::vector<std::pair<std::string, ExportScrape>> fixture_bodies();

}  // namespace listenq::testing
