// `listenq hist`: per-listener log2 histograms, printed like bcc/bpftrace.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/trace_model.h"
#include "render/trace_render.h"

namespace listenq {

// "     4 -> 7      : 12       |*****     |" rows, up to the last non-empty slot.
void render_log2_hist(std::ostream &os, const Log2Hist &h, const std::string &unit);
nlohmann::ordered_json log2_hist_json(const Log2Hist &h);

void render_hist_text(std::ostream &os, const TraceHeader &h, const std::vector<ListenerStat> &ls);
nlohmann::ordered_json hist_json(const TraceHeader &h, const std::vector<ListenerStat> &ls);

}  // namespace listenq
