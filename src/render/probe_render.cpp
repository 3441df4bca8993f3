#include "render/probe_render.h"

#include "render/table.h"

namespace listenq {

namespace {

struct NamedCap {
	const char *key;    // JSON key
	const char *label;  // text label
	Capability KernelFeatures::*member;
};

constexpr NamedCap kCapabilities[] = {
	{"btf", "kernel BTF", &KernelFeatures::btf},
	{"prog_tracing", "BPF_PROG_TYPE_TRACING", &KernelFeatures::prog_tracing},
	{"kprobe", "kprobe PMU", &KernelFeatures::kprobe_pmu},
	{"tp_btf", "tp_btf", &KernelFeatures::tp_btf},
	{"raw_tp", "raw_tp", &KernelFeatures::raw_tp},
	{"iter_tcp", "iter/tcp", &KernelFeatures::iter_tcp},
	{"ringbuf", "ringbuf", &KernelFeatures::ringbuf},
	{"sk_storage", "sk_storage", &KernelFeatures::sk_storage},
	{"kfree_skb_listen_overflow", "drop reason LISTEN_OVERFLOW", &KernelFeatures::kfree_skb_listen_overflow},
};

nlohmann::ordered_json cap_json(const Capability &c) { return {{"ok", c.ok}, {"detail", c.detail}}; }

}  // namespace

void render_probe_text(std::ostream &os, const ProbeReport &r)
{
	const KernelInfo &k = r.kernel;
	os << "listenq probe (--attach=" << attach_mode_name(r.mode) << ")\n";
	os << "kernel     " << k.release << '\n';
	os << "btf        " << (k.btf_source.empty() ? "none: " + k.btf_note : k.btf_source + " (" + k.btf_note + ")")
	   << '\n';
	os << "lockdown   " << k.lockdown << " (" << k.lockdown_from << ")\n";
	os << "somaxconn  " << (k.somaxconn ? std::to_string(*k.somaxconn) : "unknown") << " (netns " << k.netns
	   << ")\n";
	os << "inet_diag  " << (r.inet_diag.available ? "yes: " : "no: ") << r.inet_diag.detail << "\n\n";

	using A = TextTable::Align;
	TextTable caps({{"capability", A::left}, {"ok", A::left}, {"detail", A::left}});
	for (const auto &c : kCapabilities) {
		const Capability &cap = r.features.*c.member;
		caps.add_row({c.label, cap.ok ? "yes" : "no", cap.detail});
	}
	caps.print(os);
	os << '\n';

	TextTable hooks({{"hook", A::left}, {"tier", A::left}, {"mechanism", A::left}});
	for (const auto &d : r.decisions)
		hooks.add_row({d.hook, std::string(tier_name(d.tier)) + (d.sampled ? " (sampled)" : ""),
			       d.mechanism.empty() ? "-" : d.mechanism});
	hooks.print(os);
	bool header = false;
	for (const auto &d : r.decisions) {
		if (d.skipped.empty())
			continue;
		if (!header)
			os << "\nwhy not a higher tier:\n";
		header = true;
		os << "  " << d.hook << '\n';
		for (const auto &why : d.skipped)
			os << "    " << why << '\n';
	}
}

nlohmann::ordered_json probe_to_json(const ProbeReport &r)
{
	const KernelInfo &k = r.kernel;
	nlohmann::ordered_json caps = nlohmann::ordered_json::object();
	for (const auto &c : kCapabilities)
		caps[c.key] = cap_json(r.features.*c.member);
	nlohmann::ordered_json hooks = nlohmann::ordered_json::array();
	for (const auto &d : r.decisions) {
		const HookFeatures *hf = r.features.hook(d.hook);
		hooks.push_back({{"hook", d.hook},
				 {"function", d.function},
				 {"tier", tier_name(d.tier)},
				 {"mechanism", d.mechanism},
				 {"sampled", d.sampled},
				 {"skipped", d.skipped},
				 {"fentry", hf ? cap_json(hf->fentry) : nullptr},
				 {"kprobe", hf ? cap_json(hf->kprobe) : nullptr}});
	}
	return {{"schema", "listenq.probe/1"},
		{"attach_mode", attach_mode_name(r.mode)},
		{"kernel",
		 {{"release", k.release},
		  {"btf_source", k.btf_source},
		  {"btf_note", k.btf_note},
		  {"lockdown", k.lockdown},
		  {"lockdown_from", k.lockdown_from},
		  {"somaxconn", k.somaxconn ? nlohmann::ordered_json(*k.somaxconn) : nlohmann::ordered_json(nullptr)},
		  {"netns", k.netns}}},
		{"inet_diag", {{"available", r.inet_diag.available}, {"detail", r.inet_diag.detail}}},
		{"capabilities", caps},
		{"hooks", hooks}};
}

Result<KernelFeatures> features_from_probe_json(const nlohmann::ordered_json &doc)
{
	try {
		KernelFeatures f;
		auto cap = [](const nlohmann::ordered_json &j) {
			return Capability{j.at("ok").get<bool>(), j.at("detail").get<std::string>()};
		};
		for (const auto &c : kCapabilities)
			f.*c.member = cap(doc.at("capabilities").at(c.key));
		for (const auto &h : doc.at("hooks"))
			f.hooks.push_back(HookFeatures{h.at("hook").get<std::string>(), h.at("function").get<std::string>(),
						       cap(h.at("fentry")), cap(h.at("kprobe"))});
		return f;
	} catch (const nlohmann::json::exception &e) {
		return Error{EINVAL, std::string("probe JSON: ") + e.what()};
	}
}

}  // namespace listenq
