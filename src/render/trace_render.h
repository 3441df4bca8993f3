// `listenq trace` lines and `listenq watch` tables (text and JSON).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/syn_attribution.h"
#include "model/trace_model.h"
#include "plan/plan.h"

namespace listenq {

// What every tracing command says first: the plan carried out (tiers,
// programs, where each field comes from) and what the kernel refused.
struct TraceHeader {
	std::string tier;                   // "tracepoint", "fentry+kprobe", ...
	std::vector<std::string> attached;  // sections: "tp_btf/sys_exit", ...
	FieldSources fields;                // exact, sampled, from netns counters, not measured
	std::uint32_t sample_ms = 0;
	std::vector<std::string> not_used;      // sources not in use (absent, not refused), and why
	std::vector<RefusedProgram> refused;    // refused programs, their fallback and its cost
	bool perf_buffer = false;               // events through the perf buffer
	bool sampler_fallback = false;          // the queues fact is not on its first way: say what a sample costs
	bool show_attributed = true;            // trace: events carry no attributed counts
	bool syscalls = false;                  // the raw syscall hooks are in the plan (trace, --syscalls)

	static TraceHeader of(const Plan &p, std::vector<std::string> attached, std::uint32_t sample_ms);
};

// One line per refusal (function-hook programs grouped by reason): for
// headers and probe.
std::vector<std::string> refused_lines(const std::vector<RefusedProgram> &refused);
nlohmann::ordered_json refused_json(const std::vector<RefusedProgram> &refused);

struct WatchFrame {
	TraceHeader header;
	double interval_s = 0;
	std::uint64_t seq = 0;
	std::uint64_t events_lost = 0, untracked = 0;
	std::uint64_t netns_unseeded = 0;  // netns whose older listeners could not be seeded
	std::uint64_t stale_removed = 0;   // entries of listeners gone without a close seen
	std::uint64_t closed_lost = 0;     // closed listeners whose last interval had no room
	std::uint64_t hook_runs_missed = 0;  // hook runs the kernel skipped (recursion_misses)
	std::uint32_t sample_passes = 0;   // iterator passes of the last sample (one per netns walked)
	std::uint64_t sample_us = 0;       // and their time
	std::vector<Unattributed> unattributed;  // tier 3: netns counts no single listener was given
	std::vector<WatchRow> rows;
	// Text: the lines that do not change between frames (sampled, not
	// measured, from netns counters, hooks not in use). Piped output
	// prints them with the first frame only.
	bool legend = true;
};

void render_trace_header_text(std::ostream &os, const TraceHeader &h);
// The header lines that do not change while listenq runs: sampled, not
// measured, from netns counters, sources not in use, refused programs.
void render_legend(std::ostream &os, const TraceHeader &h);
// One line; t0_ns is the timestamp of the start (times print relative).
void render_trace_event_text(std::ostream &os, const TraceEvent &e, std::uint64_t t0_ns);
nlohmann::ordered_json trace_header_json(const TraceHeader &h);
nlohmann::ordered_json trace_event_json(const TraceEvent &e);

// family, local_address, port, netns, cookie, pid, comm of a traced listener.
nlohmann::ordered_json listener_stat_identity_json(const ListenerStat &s);

void render_watch_text(std::ostream &os, const WatchFrame &f);
nlohmann::ordered_json watch_frame_json(const WatchFrame &f);
// The same document written listener by listener (bounded memory).
void write_watch_frame_json(std::ostream &os, const WatchFrame &f);

}  // namespace listenq
