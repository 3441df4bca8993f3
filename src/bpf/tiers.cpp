#include "bpf/tiers.h"

namespace listenq {

std::string_view tier_name(Tier t)
{
	switch (t) {
	case Tier::fentry: return "fentry";
	case Tier::kprobe: return "kprobe";
	case Tier::tracepoint: return "tracepoint";
	case Tier::none: return "none";
	}
	return "none";
}

std::string_view attach_mode_name(AttachMode m)
{
	switch (m) {
	case AttachMode::automatic: return "auto";
	case AttachMode::fentry: return "fentry";
	case AttachMode::kprobe: return "kprobe";
	case AttachMode::tracepoint: return "tracepoint";
	}
	return "auto";
}

std::optional<AttachMode> parse_attach_mode(std::string_view s)
{
	for (auto m : {AttachMode::automatic, AttachMode::fentry, AttachMode::kprobe, AttachMode::tracepoint})
		if (s == attach_mode_name(m))
			return m;
	return std::nullopt;
}

const std::vector<HookSpec> &hook_specs()
{
	// Kernel facts: ../DESIGN "Kernel facts the code must respect".
	static const std::vector<HookSpec> specs = {
		{"listen_start", {"inet_csk_listen_start"}, true, Fallback::set_state_tp,
		 "listener created"},
		// inet_listen's body moved to __inet_listen_sk in v6.6 (io_uring listen).
		{"listen", {"__inet_listen_sk", "inet_listen"}, true, Fallback::syscall_exit,
		 "requested/effective backlog, re-listen"},
		{"queue_add", {"inet_csk_reqsk_queue_add"}, true, Fallback::iter_sampling,
		 "child enqueued on the accept queue"},
		{"accept", {"inet_csk_accept"}, true, Fallback::syscall_exit,
		 "child dequeued by accept()"},
		{"conn_request", {"tcp_conn_request"}, false, Fallback::iter_sampling,
		 "SYN-path overflow (accept queue full)"},
		// Entry is enough: its first statement is the overflow check.
		{"syn_recv_sock_v4", {"tcp_v4_syn_recv_sock"}, false, Fallback::kfree_skb_reason,
		 "ACK-path overflow, IPv4"},
		{"syn_recv_sock_v6", {"tcp_v6_syn_recv_sock"}, false, Fallback::kfree_skb_reason,
		 "ACK-path overflow, IPv6"},
		{"listen_stop", {"inet_csk_listen_stop"}, false, Fallback::set_state_tp,
		 "listener closed"},
	};
	return specs;
}

namespace {

// Tier 3 for one hook: mechanism, sampled, or an unavailability reason.
HookDecision tracepoint_decision(const HookSpec &s, const KernelFeatures &f)
{
	HookDecision d;
	d.tier = Tier::tracepoint;
	const bool tp = f.tp_btf.ok || f.raw_tp.ok;
	const std::string tp_prefix = f.tp_btf.ok ? "tp_btf/" : "raw_tp/";
	switch (s.fallback) {
	case Fallback::set_state_tp:
	case Fallback::syscall_exit:
		d.mechanism = tp_prefix + (s.fallback == Fallback::set_state_tp ? "inet_sock_set_state" : "sys_exit");
		if (!tp)
			d.skipped.push_back("no tp_btf (" + f.tp_btf.detail + ") and no raw_tp (" + f.raw_tp.detail + ")");
		break;
	case Fallback::iter_sampling:
		d.mechanism = "iter/tcp sampling";
		d.sampled = true;
		if (!f.iter_tcp.ok)
			d.skipped.push_back("no iter/tcp (" + f.iter_tcp.detail + ")");
		break;
	case Fallback::kfree_skb_reason:
		if (f.kfree_skb_listen_overflow.ok && tp) {
			d.mechanism = tp_prefix + "kfree_skb (reason TCP_LISTEN_OVERFLOW)";
		} else {
			d.mechanism = "iter/tcp sampling";
			d.sampled = true;
			if (!f.iter_tcp.ok)
				d.skipped.push_back("no iter/tcp (" + f.iter_tcp.detail + ")");
		}
		break;
	}
	if (!d.skipped.empty()) {
		d.tier = Tier::none;
		d.mechanism.clear();
		d.sampled = false;
	}
	return d;
}

std::string hook_mechanism(const HookSpec &s, Tier t, const std::string &fn)
{
	if (t == Tier::fentry)
		return (s.needs_return ? "fexit/" : "fentry/") + fn;
	return (s.needs_return ? "kretprobe/" : "kprobe/") + fn;
}

}  // namespace

std::vector<HookDecision> decide_tiers(const KernelFeatures &f, AttachMode mode)
{
	std::vector<HookDecision> out;
	for (const HookSpec &s : hook_specs()) {
		const HookFeatures *hf = f.hook(std::string(s.name));
		const HookFeatures missing{std::string(s.name), "", Capability::no("not probed"),
					   Capability::no("not probed")};
		if (!hf)
			hf = &missing;
		auto allowed = [&](AttachMode m) { return mode == AttachMode::automatic || mode == m; };

		HookDecision d;
		d.hook = std::string(s.name);
		d.function = hf->function;
		for (auto [t, cap] : {std::pair{Tier::fentry, &hf->fentry}, std::pair{Tier::kprobe, &hf->kprobe}}) {
			if (!allowed(t == Tier::fentry ? AttachMode::fentry : AttachMode::kprobe))
				continue;
			if (cap->ok) {
				d.tier = t;
				d.mechanism = hook_mechanism(s, t, hf->function);
				break;
			}
			d.skipped.push_back(std::string(tier_name(t)) + ": " + cap->detail);
		}
		// Tier 3 is the floor under every mode: a forced fentry/kprobe
		// leaves what it cannot hook to tracepoints (the tracer's rule).
		if (d.tier == Tier::none) {
			HookDecision t = tracepoint_decision(s, f);
			d.tier = t.tier;
			d.mechanism = t.mechanism;
			d.sampled = t.sampled;
			for (auto &why : t.skipped)
				d.skipped.push_back("tracepoint: " + why);
		}
		out.push_back(std::move(d));
	}
	return out;
}

const HookFeatures *KernelFeatures::hook(const std::string &name) const
{
	for (const auto &h : hooks)
		if (h.hook == name)
			return &h;
	return nullptr;
}

}  // namespace listenq
