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

}  // namespace listenq
