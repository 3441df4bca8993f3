#include "render/probe_render.h"

#include "render/table.h"
#include "render/trace_render.h"

namespace listenq {

namespace {

nlohmann::ordered_json cap_json(const Capability &c)
{
	return {{"ok", c.ok}, {"detail", c.detail}, {"errno", c.err}};
}

nlohmann::ordered_json opt_cap_json(const std::optional<Capability> &c)
{
	return c ? cap_json(*c) : nlohmann::ordered_json(nullptr);
}

std::string_view level_name(Level l) { return l == Level::hook ? "hook" : l == Level::way ? "tier3" : "floor"; }

std::string_view source_name(Provenance s)
{
	switch (s) {
	case Provenance::exact: return "exact";
	case Provenance::sampled: return "sampled";
	case Provenance::netns_counters: return "netns_counters";
	case Provenance::not_measured: return "not_measured";
	}
	return "?";
}

std::string_view state_name(ProgState s) { return s == ProgState::attach ? "attach" : s == ProgState::standby ? "standby" : "off"; }

std::string join(const std::vector<std::string> &v, const char *sep)
{
	std::string out;
	for (const auto &s : v)
		out += (out.empty() ? "" : sep) + s;
	return out;
}

// "fentry", "kprobe", "tracepoint", "floor" for a fact's row.
std::string fact_tier(const FactPlan &p)
{
	if (p.level == Level::hook)
		return std::string(tier_name(p.tier));
	return p.level == Level::way ? "tracepoint" : "-";
}

// The one line an operator reads first: whether the live commands work
// here, in which tier, what they cannot measure, and how queues are read.
std::string summary_line(const Plan &p)
{
	std::string out;
	if (p.fatal)
		return "snapshot, ss, verify only: watch, trace, hist, export, doctor cannot run (" + p.fatal->message + ")";
	out = "watch, trace, hist, export, doctor work (tier " + p.tiers() + ", events via " +
	      (p.perf_buffer ? "perf buffer" : "ringbuf") + ")";
	if (auto v = p.fields.names(Provenance::not_measured); !v.empty())
		out += "; not measured here: " + join(v, ", ");
	for (const FactPlan &fp : p.facts) {
		if (fp.fact != FactId::queues)
			continue;
		std::vector<std::string> ways;
		for (const std::string &m : fp.mechanisms) {
			std::string w = m.substr(0, m.find(':'));
			if (w.ends_with(" instead"))
				w.resize(w.size() - 8);
			ways.push_back(w);
		}
		out += "; queues read by " + join(ways, ", ");
	}
	return out;
}

}  // namespace

// Long: probe's report section by section, in the order it prints.
void render_probe_text(std::ostream &os, const ProbeReport &r)
{
	const KernelInfo &k = r.kernel;
	const Plan &p = r.plan;
	os << "listenq probe (--attach=" << attach_mode_name(p.mode) << ")\n";
	print_folded(os, "here:", summary_line(p));
	os << "kernel     " << k.release << '\n';
	os << "btf        " << (k.btf_source.empty() ? "none: " + k.btf_note : k.btf_source + " (" + k.btf_note + ")")
	   << '\n';
	os << "lockdown   " << k.lockdown << " (" << k.lockdown_from << ")\n";
	os << "somaxconn  " << (k.somaxconn ? std::to_string(*k.somaxconn) : "unknown") << " (netns " << k.netns
	   << ")\n";
	os << "inet_diag  " << (r.inet_diag.available ? "yes: " : "no: ") << r.inet_diag.detail << "\n\n";

	using A = TextTable::Align;
	const KernelFeatures &f = r.features;
	TextTable caps({{"kind", A::left}, {"ok", A::left}, {"detail", A::left}});
	caps.add_row({"kernel BTF", f.btf.ok ? "yes" : "no", f.btf.detail});
	for (ProgKind kind : kAllProgKinds) {
		const Capability &c = f.kind(kind);
		// A kind probe is not a program probe: where the kernel loads the
		// kind but refused a program of it the plan wanted, say both.
		std::vector<std::string> refused;
		for (const RefusedProgram &x : p.refused)
			if (!x.by_user && x.kind == prog_kind_name(kind))
				refused.push_back(x.program + " (" + x.reason + ")");
		if (c.ok && !refused.empty()) {
			const std::size_t n = refused.size();
			if (n > 2)
				refused.resize(2), refused.push_back("and " + std::to_string(n - 2) + " more (below)");
			caps.add_row({std::string(prog_kind_name(kind)), "part",
				      "kind loads; refused: " + join(refused, ", ")});
		}
		else
			caps.add_row({std::string(prog_kind_name(kind)), c.ok ? "yes" : "no", c.detail});
	}
	for (MapKind m : kAllMapKinds) {
		if (!f.maps.count(m))  // a capture from before it was probed
			continue;
		const Capability &c = f.map(m);
		caps.add_row({m == MapKind::global_data ? "global data" : std::string(map_kind_name(m)) + " map",
			      c.ok ? "yes" : "no", c.detail});
	}
	caps.add_row({"drop reason", f.drop_reason.ok ? "yes" : "no", f.drop_reason.detail});
	caps.add_row({"for_each test run", f.test_run_for_each.ok ? "yes" : "no", f.test_run_for_each.detail});
	caps.print(os);
	os << '\n';

	os << "plan: tier " << p.tiers() << ", events via " << (p.perf_buffer ? "perf buffer" : "ringbuf") << '\n';
	TextTable facts({{"fact", A::left}, {"tier", A::left}, {"source", A::left}});
	for (const FactPlan &fp : p.facts)
		facts.add_row({std::string(fact_name(fp.fact)), fact_tier(fp), join(fp.mechanisms, ", ")});
	facts.print(os);
	for (const auto &[src, label] : {std::pair{Provenance::sampled, "sampled:"}, std::pair{Provenance::not_measured, "not measured:"},
					 std::pair{Provenance::netns_counters, "from netns counters:"}})
		if (auto v = p.fields.names(src); !v.empty())
			print_folded(os, label, join(v, ", "));
	for (const std::string &line : refused_lines(p.refused))
		print_folded(os, "refused:", line);
	if (p.fatal)
		print_folded(os, "cannot trace:", p.fatal->message);
	if (!r.load_error.empty())
		print_folded(os, "trial load:", r.load_error);

	std::vector<std::string> attach, standby;
	for (const ProgramPlan &pp : p.programs)
		if (pp.state != ProgState::off)
			(pp.state == ProgState::attach ? attach : standby).emplace_back(pp.name);
	print_folded(os, "programs attached:", join(attach, " "));
	if (!standby.empty())
		print_folded(os, "standby (if a trampoline cannot attach):", join(standby, " "));

	bool header = false;
	for (const FactPlan &fp : p.facts) {
		const bool cost = !fp.cost.empty() && fp.level == Level::way;  // a floor is its own source text
		if (fp.not_used.empty() && !cost)
			continue;
		if (!header)
			os << "\nwhy not a better source:\n";
		header = true;
		os << "  " << fact_name(fp.fact) << '\n';
		for (const NotUsed &n : fp.not_used)
			print_folded(os, "   ", n.text);
		if (cost)
			print_folded(os, "    cost:", fp.cost);
	}
}

nlohmann::ordered_json plan_to_json(const Plan &p)
{
	nlohmann::ordered_json facts = nlohmann::ordered_json::array();
	for (const FactPlan &fp : p.facts) {
		nlohmann::ordered_json not_used = nlohmann::ordered_json::array();
		for (const NotUsed &n : fp.not_used)
			not_used.push_back({{"why", n.text}, {"refused", n.refused}});
		std::vector<std::string> progs(fp.programs.begin(), fp.programs.end());
		std::vector<std::string> standby(fp.standby.begin(), fp.standby.end());
		facts.push_back({{"fact", fact_name(fp.fact)},
				 {"level", level_name(fp.level)},
				 {"tier", fact_tier(fp)},
				 {"mechanisms", fp.mechanisms},
				 {"programs", progs},
				 {"standby", standby},
				 {"not_used", not_used},
				 {"cost", fp.cost}});
	}
	nlohmann::ordered_json fields = nlohmann::ordered_json::object();
	for (TraceField x : kAllFields)
		fields[std::string(field_name(x))] = source_name(p.fields.of(x));
	nlohmann::ordered_json programs = nlohmann::ordered_json::array();
	for (const ProgramPlan &pp : p.programs) {
		const ProgramSpec *spec = find_program(pp.name);
		programs.push_back({{"program", pp.name},
				    {"section", spec ? spec->section() : ""},
				    {"state", state_name(pp.state)},
				    {"why", pp.why}});
	}
	return {{"attach_mode", attach_mode_name(p.mode)},
		{"tier", p.tiers()},
		{"exact_mask", p.exact_mask()},
		{"events_via", p.perf_buffer ? "perf_buffer" : "ringbuf"},
		{"facts", facts},
		{"fields", fields},
		{"programs", programs},
		{"refused", refused_json(p.refused)},
		{"fatal", p.fatal ? nlohmann::ordered_json(p.fatal->message) : nlohmann::ordered_json(nullptr)}};
}

nlohmann::ordered_json probe_to_json(const ProbeReport &r)
{
	const KernelInfo &k = r.kernel;
	const KernelFeatures &f = r.features;
	nlohmann::ordered_json kinds = nlohmann::ordered_json::object(), maps = nlohmann::ordered_json::object();
	for (ProgKind kind : kAllProgKinds)
		kinds[std::string(prog_kind_name(kind))] = cap_json(f.kind(kind));
	for (MapKind m : kAllMapKinds)
		if (f.maps.count(m))
			maps[std::string(map_kind_name(m))] = cap_json(f.map(m));
	nlohmann::ordered_json functions = nlohmann::ordered_json::array();
	for (const FunctionFeatures &fn : f.functions)
		functions.push_back({{"function", fn.function},
				     {"present", fn.present},
				     {"absent_why", fn.absent_why},
				     {"fentry", opt_cap_json(fn.fentry)},
				     {"kprobe", opt_cap_json(fn.kprobe)}});
	return {{"schema", "listenq.probe/2"},
		{"kernel",
		 {{"release", k.release},
		  {"btf_source", k.btf_source},
		  {"btf_note", k.btf_note},
		  {"lockdown", k.lockdown},
		  {"lockdown_from", k.lockdown_from},
		  {"somaxconn", k.somaxconn ? nlohmann::ordered_json(*k.somaxconn) : nlohmann::ordered_json(nullptr)},
		  {"netns", k.netns}}},
		{"inet_diag", {{"available", r.inet_diag.available}, {"detail", r.inet_diag.detail}}},
		{"capabilities",
		 {{"btf", cap_json(f.btf)},
		  {"prog_tracing", cap_json(f.prog_tracing)},
		  {"drop_reason", cap_json(f.drop_reason)},
		  {"test_run_for_each", cap_json(f.test_run_for_each)},
		  {"kinds", kinds},
		  {"maps", maps}}},
		{"functions", functions},
		{"plan", plan_to_json(r.plan)},
		{"trial_load_error", r.load_error.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.load_error)}};
}

}  // namespace listenq
