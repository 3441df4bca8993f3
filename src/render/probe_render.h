// `listenq probe` output: what the kernel allows, per program kind, and
// the plan made from it (the one the tracing commands carry out).
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plan/features.h"
#include "plan/plan.h"
#include "model/kernel_info.h"
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
	Plan plan;
	std::string load_error;  // the trial load failed for another reason than a refusal
};

void render_probe_text(std::ostream &os, const ProbeReport &r);
nlohmann::ordered_json probe_to_json(const ProbeReport &r);
nlohmann::ordered_json plan_to_json(const Plan &p);

}  // namespace listenq
