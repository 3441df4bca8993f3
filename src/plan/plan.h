// The capability plan: which program serves each fact, which programs are
// off and why, what every output field comes from. A pure function of the
// kernel's features, --attach and the programs refused so far; `listenq
// probe` prints it and the tracer carries it out (re-planning when the
// kernel refuses a program at load or attach).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plan/features.h"
#include "plan/facts.h"
#include "util/result.h"

namespace listenq {

enum class Tier { fentry, kprobe, tracepoint };
enum class AttachMode { automatic, fentry, kprobe, tracepoint };

std::string_view tier_name(Tier t);
std::string_view attach_mode_name(AttachMode m);
std::optional<AttachMode> parse_attach_mode(std::string_view s);

// A program, program kind, section or map kind the kernel refused (or
// LISTENQ_REFUSE names): the plan does without it.
struct Refusal {
	std::string what;   // "sample_tracked", "iter/bpf_sk_storage_map", "tp_btf/sys_exit", "ringbuf"
	int err = 0;        // the kernel's errno (EPERM for LISTENQ_REFUSE)
	std::string stage;  // "load", "attach", "probe"
	bool by_user = false;
	std::string detail;  // what libbpf or the kernel said, if anything

	// "load: Operation not permitted", "LISTENQ_REFUSE"
	std::string reason() const;
	bool matches(const ProgramSpec &p) const;
};

// LISTENQ_REFUSE=a,b,c -> refusals by the user. Unknown names are an error.
Result<std::vector<Refusal>> parse_refusals(std::string_view list);

// Where an output field's numbers come from.
enum class Provenance { exact, sampled, netns_counters, not_measured };

class FieldSources {
public:
	FieldSources();
	Provenance of(TraceField f) const { return v_[static_cast<std::size_t>(f)]; }
	bool measured(TraceField f) const { return of(f) != Provenance::not_measured; }
	void set(TraceField f, Provenance s) { v_[static_cast<std::size_t>(f)] = s; }
	// The JSON names of the fields from s ("sampled", "unmeasured", "attributed").
	std::vector<std::string> names(Provenance s) const;

private:
	std::array<Provenance, std::size(kAllFields)> v_;
};

enum class Level { hook, way, floor };

// Why a better source of a fact is not used.
struct NotUsed {
	std::string text;      // "fentry: fexit/inet_csk_accept: load: Operation not permitted"
	bool refused = false;  // refused by the kernel or LISTENQ_REFUSE (else absent)
	std::string brief;     // without the program, the same for every function: "kprobe: no kprobe PMU"
};

struct FactPlan {
	FactId fact = FactId::listen;
	Level level = Level::floor;
	Tier tier = Tier::tracepoint;          // fentry/kprobe at Level::hook
	int way = -1;                          // index in FactSpec::ways at Level::way
	std::vector<std::string> mechanisms;   // "fexit/inet_csk_accept", a way's label, or the floor
	std::vector<std::string_view> programs;  // attached
	std::vector<std::string_view> standby;   // loaded too, attached if a program above cannot attach
	std::vector<NotUsed> not_used;           // why each better source is not used
	std::string cost;                        // what this source costs or loses against the best
};

enum class ProgState { attach, standby, off };

struct ProgramPlan {
	std::string_view name;
	ProgState state = ProgState::off;
	std::string why;  // off: why
};

// A program (or map kind) the plan would use but the kernel or the user
// refused, and what stands in for it.
struct RefusedProgram {
	std::string program;  // program name, or "ringbuf" / "sk_storage"
	std::string kind;     // "iter/bpf_sk_storage_map", "fexit", or "map"
	std::string fact;     // "queues", or "events" for the ringbuf
	std::string reason;   // "load: Operation not permitted", "LISTENQ_REFUSE"
	std::string detail;   // the full message ("load fexit/inet_csk_accept: ...")
	int err = 0;
	bool by_user = false;
	std::string fallback;  // what serves instead
	std::string cost;      // what that costs or loses

	bool function_hook() const;
};

struct Plan {
	AttachMode mode = AttachMode::automatic;
	std::vector<FactPlan> facts;        // fact_specs() order
	std::vector<ProgramPlan> programs;  // trace_programs() order
	std::vector<RefusedProgram> refused;
	std::vector<Refusal> refusals;      // the input, kept for re-planning
	bool perf_buffer = false;           // events through the perf buffer (ringbuf refused)
	bool sk_storage = true;             // tracked marks
	bool ptr_keys = false;              // the kprobe walk samples (or legacy): keys by socket pointer
	bool legacy = false;                // no global data: trace_legacy.bpf.o (perf buffer, no sk_storage)
	bool syscalls = false;              // the raw syscall hooks may run (trace, or --syscalls)
	FieldSources fields;
	std::optional<Error> fatal;         // no way to read listeners, or a forced tier impossible

	const FactPlan &fact(FactId f) const;
	const ProgramPlan &program(std::string_view name) const;
	bool loads(std::string_view prog) const;  // attach or standby
	std::uint32_t exact_mask() const;         // enum lq_exact
	// "fentry", "kprobe", "tracepoint", "fentry+tracepoint", ... : the
	// tiers of the facts that have function hooks.
	std::string tiers() const;
	// Function hooks not in use and why (not a refusal: absent, or a
	// limit such as no kprobe PMU).
	std::vector<std::string> hooks_not_used() const;
};

// syscalls: the raw syscall hooks may be used (listen()'s requested backlog,
// the clamp, and accepts where no function hook counts them). They run on
// every syscall of every task, so `trace` asks for them and the always-on
// commands only with --syscalls.
Plan make_plan(const KernelFeatures &f, AttachMode mode, const std::vector<Refusal> &refusals, bool syscalls);

}  // namespace listenq
