// A `listenq probe --json` captured on a real kernel, read back into
// KernelFeatures: the plan of that kernel replays in a unit test anywhere.
// The reverse of render/probe_render.h's probe_to_json.
#pragma once

#include <nlohmann/json.hpp>

#include "plan/features.h"
#include "util/result.h"

namespace listenq {

// The "capabilities" and "functions" of a probe document.
Result<KernelFeatures> features_from_probe_json(const nlohmann::ordered_json &doc);

}  // namespace listenq
