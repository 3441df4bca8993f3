// The hooks of DESIGN.md and the per-hook choice of attach tier.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/features.h"

namespace listenq {

enum class Tier { fentry, kprobe, tracepoint, none };
enum class AttachMode { automatic, fentry, kprobe, tracepoint };

std::string_view tier_name(Tier t);
std::string_view attach_mode_name(AttachMode m);
std::optional<AttachMode> parse_attach_mode(std::string_view s);

// What tier 3 uses in place of the function hook.
enum class Fallback {
	set_state_tp,      // tp_btf/inet_sock_set_state (listen start / stop)
	syscall_exit,      // tp_btf/sys_exit for listen(), accept(), accept4()
	iter_sampling,     // queue depth sampled with iter/tcp
	kfree_skb_reason,  // tp_btf/kfree_skb reason TCP_LISTEN_OVERFLOW, else sampling
};

struct HookSpec {
	std::string_view name;                      // stable id used in output and JSON
	std::vector<std::string_view> functions;    // candidates, newest kernel first
	bool needs_return;                          // fexit/kretprobe instead of fentry/kprobe
	Fallback fallback;
	std::string_view purpose;
};

const std::vector<HookSpec> &hook_specs();

struct HookDecision {
	std::string hook;
	std::string function;   // kernel function for tiers 1-2
	Tier tier = Tier::none;
	std::string mechanism;  // "fexit/inet_csk_accept", "tp_btf/inet_sock_set_state", ...
	bool sampled = false;   // tier 3 numbers that come from periodic iter/tcp samples
	// Each tier tried before this one (or all, when tier is none), as
	// "fentry: load fexit/x: Operation not permitted (1)".
	std::vector<std::string> skipped;
};

// Pure: the tier for each hook given the kernel's features and --attach.
std::vector<HookDecision> decide_tiers(const KernelFeatures &f, AttachMode mode);

}  // namespace listenq
