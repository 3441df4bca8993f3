// listenq doctor: what was observed in a window, and the findings drawn
// from it. Pure: the command (cli/doctor_command.cpp) gathers a
// DoctorInput from the tracer, /proc and /proc/sys; diagnose() turns it
// into findings with their evidence and fix. Unit tests feed it data.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/listener.h"
#include "model/counters.h"

namespace listenq {

// One listener over the window. Counts are over the window (the tracer
// starts with it); peaks are the window's.
struct ListenerObservation {
	Listener id;  // family, addr, port, netns, cookie
	std::uint32_t pid = 0;
	std::string comm;
	std::string cmdline;  // argv joined by spaces (recognises gunicorn under python)
	std::string state;    // /proc/PID/status State: "S (sleeping)", "T (stopped)" ...
	std::optional<CgroupInfo> cgroup;  // the owner's (container, pod, unit); nullopt: unknown
	std::uint32_t backlog = 0;                      // sk_max_ack_backlog
	std::optional<std::int32_t> requested_backlog;  // listen()'s argument, where seen
	std::uint32_t accept_queue = 0, accept_queue_peak = 0;  // at the end; the window's peak
	std::uint32_t syn_queue_peak = 0;
	std::uint32_t seconds_full = 0;  // one-second intervals whose peak reached the backlog (or backlog+1)
	std::uint32_t seconds_busy = 0;  // intervals with a connection waiting 100 ms or more, or at the limit
	std::uint32_t seconds = 0;       // intervals observed
	std::uint64_t overflow_syn = 0, overflow_ack = 0;
	std::optional<std::uint64_t> enqueued;  // nullopt: not measured in this tier
	std::uint64_t accepted = 0;
	double peak_accepts_per_s = 0;  // the busiest one-second interval
	std::uint64_t synack_retrans = 0;
	std::uint64_t synq_full_drops = 0, synq_full_cookies = 0, syncookies_sent = 0;
	std::uint32_t hol_wait_us = 0, hol_wait_peak_us = 0;  // head-of-line wait: now, peak
};

// A netns's settings and its TcpExt counters over the window.
struct NetnsObservation {
	std::uint32_t netns = 0;
	std::optional<std::uint32_t> somaxconn, max_syn_backlog, syncookies, abort_on_overflow;
	std::optional<ListenCounters> delta;  // end - start; nullopt: not readable at both ends
};

struct DoctorInput {
	double seconds = 0;  // the window
	std::string tier;    // the plan's tiers ("tracepoint", "fentry+tracepoint" ...)
	bool syscalls = false;
	std::vector<ListenerObservation> listeners;
	std::map<std::uint32_t, NetnsObservation> netns;
	std::optional<bool> tcp_diag;  // inet_diag answered a TCP dump; nullopt: not asked
	std::string tcp_diag_detail;
	std::vector<std::string> unmeasured;  // fields this tier does not measure ("enqueued" ...)
};

enum class Severity { critical, warning, info };
std::string severity_name(Severity s);  // "critical", "warning", "info"

// One measured number behind a finding.
struct Evidence {
	std::string key;  // snake_case JSON key: "overflow_syn"
	double value = 0;
	std::string unit;  // "", "per_s", "us", "s"
};

struct Finding {
	std::string id;  // stable: "accept_queue_overflow", "somaxconn_clamp" ...
	Severity severity = Severity::info;
	std::string title;                     // one line
	std::vector<const ListenerObservation *> listeners;  // into DoctorInput::listeners
	std::optional<std::uint32_t> netns;    // netns-wide findings
	std::vector<Evidence> evidence;        // the numbers
	std::string evidence_text;             // the numbers, as sentences
	std::string cause;                     // what the numbers say
	std::vector<std::string> fix;          // what to change, most direct first
};

// Every check, in the order it runs; `doctor --json` lists them.
const std::vector<std::string> &doctor_checks();

// The findings, sorted by severity (critical first), then by pressure.
// Pointers in them point into in.listeners.
std::vector<Finding> diagnose(const DoctorInput &in);

// true when a finding is critical or a warning: doctor then exits 1.
bool needs_action(const std::vector<Finding> &f);

// The application setting that sets listen()'s backlog for a server this
// process looks like ("nginx: listen ... backlog=N"), or "".
std::string backlog_setting_for(const std::string &comm, const std::string &cmdline);

}  // namespace listenq
