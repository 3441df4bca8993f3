// `listenq verify` output.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crossval/compare.h"
#include "model/counters.h"

namespace listenq {

struct VerifyReport {
	std::uint32_t netns = 0;
	std::vector<Source> sources;  // asked for, in order
	std::string bpf_source = "iter/tcp";  // what read Source::bpf (Snapshot::source)
	bool diag_unavailable = false;
	bool diag_emulated = false;
	std::string diag_detail;
	Comparison comparison;
	std::optional<ListenCounters> counters;
	// With --emulate-no-tcp-diag (or tcp_diag missing): ss's view from
	// /proc and listenq ss's view, both in ss format.
	std::string ss_without_tcp_diag;
	std::string listenq_ss;
};

void render_verify_text(std::ostream &os, const VerifyReport &r);
nlohmann::ordered_json verify_to_json(const VerifyReport &r);

}  // namespace listenq
