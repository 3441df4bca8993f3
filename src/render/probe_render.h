// `listenq probe` output.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpf/features.h"
#include "bpf/tiers.h"
#include "sources/kernel_info.h"
#include "util/result.h"

namespace listenq {

struct DiagProbe {
	bool available = false;
	std::string detail;  // "tcp_diag answered, 3 listeners" / why not
};

struct ProbeReport {
	KernelInfo kernel;
	DiagProbe inet_diag;
	KernelFeatures features;
	AttachMode mode = AttachMode::automatic;
	std::vector<HookDecision> decisions;
};

void render_probe_text(std::ostream &os, const ProbeReport &r);
nlohmann::ordered_json probe_to_json(const ProbeReport &r);
// The "capabilities" and "hooks" of a `probe --json` document back into
// KernelFeatures: a probe captured on one kernel replays on any machine.
Result<KernelFeatures> features_from_probe_json(const nlohmann::ordered_json &doc);

}  // namespace listenq
