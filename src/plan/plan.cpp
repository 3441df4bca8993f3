#include "plan/plan.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

namespace listenq {

std::string_view tier_name(Tier t)
{
	switch (t) {
	case Tier::fentry: return "fentry";
	case Tier::kprobe: return "kprobe";
	case Tier::tracepoint: return "tracepoint";
	}
	return "tracepoint";
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

std::string Refusal::reason() const
{
	if (by_user)
		return "LISTENQ_REFUSE";
	std::string out = stage.empty() ? "" : stage + ": ";
	out += err ? errno_name(err) : "refused";
	return out;
}

bool Refusal::matches(const ProgramSpec &p) const
{
	return what == p.name || what == p.section() || what == prog_kind_name(p.kind);
}

Result<std::vector<Refusal>> parse_refusals(std::string_view list)
{
	std::vector<Refusal> out;
	while (!list.empty()) {
		const auto comma = list.find(',');
		const std::string_view item = list.substr(0, comma);
		list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
		if (item.empty())
			continue;
		bool known = parse_prog_kind(item).has_value();
		for (MapKind m : kAllMapKinds)
			known |= item == map_kind_name(m);
		for (const auto *list : {&trace_programs(), &snapshot_programs()})
			for (const ProgramSpec &p : *list)
				known |= item == p.name || item == p.section();
		if (!known)
			return Error{EINVAL, "LISTENQ_REFUSE: " + std::string(item) +
						     " is no program, section, program kind or map kind of listenq "
						     "(see listenq probe)"};
		out.push_back(Refusal{std::string(item), EPERM, "load", true, {}});
	}
	return out;
}

FieldSources::FieldSources() { v_.fill(Provenance::exact); }

std::vector<std::string> FieldSources::names(Provenance s) const
{
	std::vector<std::string> out;
	for (TraceField f : kAllFields)
		if (of(f) == s)
			out.emplace_back(field_name(f));
	return out;
}

const FactPlan &Plan::fact(FactId f) const
{
	for (const FactPlan &p : facts)
		if (p.fact == f)
			return p;
	return facts.front();
}

const ProgramPlan &Plan::program(std::string_view name) const
{
	static const ProgramPlan none{};
	for (const ProgramPlan &p : programs)
		if (p.name == name)
			return p;
	return none;
}

bool Plan::loads(std::string_view prog) const { return program(prog).state != ProgState::off; }

std::uint32_t Plan::exact_mask() const
{
	// enum lq_exact (include/listenq/abi.h)
	constexpr std::pair<FactId, std::uint32_t> bits[] = {{FactId::listen, 1},   {FactId::enqueue, 2},
							     {FactId::accept, 4},   {FactId::syn_path, 8},
							     {FactId::ack_path, 16}};
	std::uint32_t mask = 0;
	for (auto [f, bit] : bits)
		if (fact(f).level == Level::hook)
			mask |= bit;
	if (fact(FactId::backlog).level != Level::floor)
		mask |= 32;  // LQ_EXACT_BACKLOG: listen() at syscall exit
	if (fact(FactId::enqueue).level == Level::way)
		mask |= 64;  // LQ_TP_ENQUEUE: the children's state changes
	return mask;
}

std::string Plan::tiers() const
{
	bool fentry = false, kprobe = false, tracepoint = false;
	for (const FactPlan &p : facts) {
		if (fact_spec(p.fact).hooks.empty())
			continue;
		fentry |= p.level == Level::hook && p.tier == Tier::fentry;
		kprobe |= p.level == Level::hook && p.tier == Tier::kprobe;
		tracepoint |= p.level != Level::hook;
	}
	std::string out;
	for (auto [on, name] : {std::pair{fentry, "fentry"}, std::pair{kprobe, "kprobe"}, std::pair{tracepoint, "tracepoint"}})
		if (on)
			out += (out.empty() ? "" : "+") + std::string(name);
	return out;
}

namespace {

// Why a program cannot be used (nullopt: it can), and whether that is a
// refusal (kernel or user) rather than something missing.
struct Off {
	std::string why;
	int err = 0;
	bool by_user = false;
	bool refused = false;
	std::string stage = "load";
	std::string detail;  // why, without the program

	// Absent (not refused): just why.
	static Off absent(std::string why) { return Off{std::move(why), 0, false, false, "load", {}}; }

	// "load: Operation not permitted", "LISTENQ_REFUSE"
	std::string reason() const
	{
		if (by_user)
			return "LISTENQ_REFUSE";
		return stage + ": " + (err ? errno_name(err) : "refused");
	}
};

// A capability's message says the stage first ("attach fentry/x: ...").
Off off_of(const std::string &what, const Capability &c)
{
	Off o{what.empty() ? c.detail : what + ": " + c.detail, c.err, false, c.refused(), "load", c.detail};
	if (c.detail.rfind("attach", 0) == 0)
		o.stage = "attach";
	if (c.detail == "refused by LISTENQ_REFUSE")
		o.by_user = true;
	return o;
}

bool is_function_hook(ProgKind k)
{
	return k == ProgKind::fentry || k == ProgKind::fexit || k == ProgKind::kprobe || k == ProgKind::kretprobe;
}

// One of the fact table's function-hook programs (HookFn), not a way's.
bool is_hook_program(std::string_view name)
{
	for (const FactSpec &spec : fact_specs())
		for (const HookFn &h : spec.hooks)
			if (name == h.fentry || name == h.kprobe || name == h.kretprobe)
				return true;
	return false;
}

std::optional<Off> why_off(const ProgramSpec &p, const KernelFeatures &f, const std::vector<Refusal> &refusals)
{
	for (const Refusal &r : refusals)
		if (r.matches(p))
			return Off{r.by_user ? p.section() + ": refused by LISTENQ_REFUSE"
					     : r.stage + " " + p.section() + ": " + (r.err ? errno_name(r.err) : "refused") +
						       (r.detail.empty() ? "" : " (" + r.detail + ")"),
				   r.err, r.by_user, true, r.stage.empty() ? "load" : r.stage, r.reason()};
	const Capability &kind = f.kind(p.kind);
	if (!kind.ok)
		return off_of(p.section(), kind);
	// A tier-3 way's kprobe (the walk's tcp{4,6}_seq_show, in every
	// kernel since 2.6) is not a probed function hook.
	if (!is_function_hook(p.kind) || !is_hook_program(p.name))
		return std::nullopt;
	const FunctionFeatures *fn = f.function(p.target);
	if (!fn || !fn->present)
		return Off::absent(std::string(p.target) + ": " + (fn ? fn->absent_why : "not probed"));
	const auto &cap = (p.kind == ProgKind::fentry || p.kind == ProgKind::fexit) ? fn->fentry : fn->kprobe;
	if (cap && !cap->ok)
		return off_of("", *cap);
	return std::nullopt;
}

std::optional<Off> why_off(std::string_view name, const KernelFeatures &f, const std::vector<Refusal> &refusals)
{
	const ProgramSpec *p = find_program(name);
	if (!p)
		return Off::absent("no such program");
	return why_off(*p, f, refusals);
}

// The first reason any of progs is off.
std::optional<Off> first_off(const std::vector<std::string_view> &progs, const KernelFeatures &f,
			     const std::vector<Refusal> &refusals)
{
	for (std::string_view p : progs)
		if (auto off = why_off(p, f, refusals))
			return off;
	return std::nullopt;
}

std::optional<Off> map_off(MapKind k, const KernelFeatures &f, const std::vector<Refusal> &refusals)
{
	for (const Refusal &r : refusals)
		if (r.what == map_kind_name(k))
			return Off{r.reason(), r.err, r.by_user, true, r.stage.empty() ? "load" : r.stage, r.reason()};
	// Probes captured before listenq probed global data come from kernels
	// that have it (5.10 and later).
	if (k == MapKind::global_data && !f.maps.count(k))
		return std::nullopt;
	const Capability &c = f.map(k);
	if (!c.ok)
		return off_of(std::string(map_kind_name(k)) + (k == MapKind::global_data ? "" : " map"), c);
	return std::nullopt;
}

std::vector<std::string_view> hook_programs(const HookFn &h, Tier t)
{
	if (t == Tier::fentry)
		return {h.fentry};
	if (h.kretprobe.empty())
		return {h.kprobe};
	return {h.kprobe, h.kretprobe};
}

std::string hook_mechanism(const HookFn &h, Tier t)
{
	if (t == Tier::fentry) {
		const ProgramSpec *p = find_program(h.fentry);
		return p ? p->section() : std::string(h.fentry);
	}
	return std::string(h.kretprobe.empty() ? "kprobe/" : "kprobe+kretprobe/") + std::string(h.function);
}

struct Planner {
	const KernelFeatures &f;
	AttachMode mode;
	const std::vector<Refusal> &refusals;
	bool sk_storage = true;
	std::vector<RefusedProgram> refused;
	bool syscalls = false;         // the syscall hooks may be used (Plan::syscalls)
	bool enqueue_counted = false;  // the enqueue fact is served (planned before accept)
	bool legacy = false;           // trace_legacy.bpf.o (Plan::legacy)

	bool allowed(Tier t) const
	{
		if (mode == AttachMode::automatic)
			return t != Tier::tracepoint;
		return (t == Tier::fentry && mode == AttachMode::fentry) || (t == Tier::kprobe && mode == AttachMode::kprobe);
	}

	void note_refused(const FactSpec &spec, const std::vector<std::string_view> &progs)
	{
		for (std::string_view name : progs) {
			auto off = why_off(name, f, refusals);
			if (!off || !off->refused)
				continue;
			if (std::any_of(refused.begin(), refused.end(), [&](const RefusedProgram &r) { return r.program == name; }))
				continue;
			const ProgramSpec *p = find_program(name);
			refused.push_back(RefusedProgram{std::string(name), p ? std::string(prog_kind_name(p->kind)) : "",
							 std::string(fact_name(spec.id)), off->reason(), off->why, off->err,
							 off->by_user, {}, {}});
		}
	}

	// The fact cannot use function hooks (at h): the refusals of the
	// functions after h are noted too, so that the list is whole.
	void note_rest(const FactSpec &spec, const HookFn &h)
	{
		bool after = false;
		for (const HookFn &x : spec.hooks) {
			if (after)
				for (Tier t : {Tier::fentry, Tier::kprobe})
					if (allowed(t))
						note_refused(spec, hook_programs(x, t));
			after |= &x == &h;
		}
	}

	// Tiers 1-2: every function of the fact on a function hook, or none.
	bool plan_hooks(const FactSpec &spec, FactPlan &out)
	{
		// A function the kernel lacks (or LISTENQ_SKIP_FUNCTIONS names) is
		// said in every mode: it is what auto would run into.
		for (const HookFn &h : spec.hooks) {
			const FunctionFeatures *fn = f.function(h.function);
			if (!h.optional && (!fn || !fn->present)) {
				const std::string why = std::string(h.function) + ": " + (fn ? fn->absent_why : "not probed");
				out.not_used.push_back({why, false, why});
				note_rest(spec, h);
				return false;
			}
		}
		if (spec.hooks.empty() || !(allowed(Tier::fentry) || allowed(Tier::kprobe)))
			return false;
		std::set<Tier> used;
		for (const HookFn &h : spec.hooks) {
			const FunctionFeatures *fn = f.function(h.function);
			if (!fn || !fn->present)
				continue;  // optional and absent: nothing to watch
			std::optional<Tier> chosen;
			for (Tier t : {Tier::fentry, Tier::kprobe}) {
				if (!allowed(t))
					continue;
				const auto progs = hook_programs(h, t);
				auto off = first_off(progs, f, refusals);
				if (chosen) {  // the kprobe twin, in case the trampoline cannot attach
					if (!off)
						out.standby.insert(out.standby.end(), progs.begin(), progs.end());
					break;
				}
				if (off) {
					const std::string tier(tier_name(t));
					out.not_used.push_back({tier + ": " + off->why, off->refused,
								tier + ": " + (off->detail.empty() ? off->why : off->detail)});
					note_refused(spec, progs);
					continue;
				}
				chosen = t;
				out.programs.insert(out.programs.end(), progs.begin(), progs.end());
				out.mechanisms.push_back(hook_mechanism(h, t));
			}
			if (!chosen) {
				note_rest(spec, h);
				return false;
			}
			used.insert(*chosen);
		}
		if (used.empty())
			return false;
		out.level = Level::hook;
		out.tier = used.count(Tier::kprobe) ? Tier::kprobe : Tier::fentry;
		return true;
	}

	// Why a way cannot be used, or nullopt.
	std::optional<NotUsed> way_off(const Way &w)
	{
		const std::string label(w.label);
		// A missing kernel feature reads the same for every kind of a way.
		if (w.needs == Needs::drop_reason && !f.drop_reason.ok)
			return NotUsed{label + ": " + f.drop_reason.detail, false, "kfree_skb: " + f.drop_reason.detail};
		if (w.needs == Needs::sk_storage && !sk_storage)
			return NotUsed{label + ": no sk_storage map", false, "tracked listeners: no sk_storage map"};
		if (w.needs == Needs::syscalls && !syscalls)
			return NotUsed{label + ": syscall hooks off (--syscalls turns them on)", false,
				       "syscall hooks: off (--syscalls turns them on)"};
		if (w.needs == Needs::enqueue_counted && !enqueue_counted)
			return NotUsed{label + ": enqueues not counted", false, label + ": enqueues not counted"};
		if (w.needs == Needs::busy_pass) {
			const std::string name = w.programs.empty() ? label : std::string(w.programs.front());
			if (legacy)
				return NotUsed{name + ": not in trace_legacy.bpf.o", false, name + ": no global data"};
			if (!f.test_run_for_each.ok)
				return NotUsed{name + ": " + f.test_run_for_each.detail, false,
					       name + ": " + f.test_run_for_each.detail};
			if (!enqueue_counted)
				return NotUsed{name + ": enqueues not counted", false, name + ": enqueues not counted"};
		}
		if (auto off = first_off(w.programs, f, refusals))
			return NotUsed{label + ": " + off->why, off->refused, label + ": " + off->why};
		return std::nullopt;
	}

	// What the fact takes on top of its way; an add it cannot take is
	// said (and noted when refused), and the fact keeps its way.
	void plan_adds(const FactSpec &spec, FactPlan &out)
	{
		for (const Way &a : spec.adds) {
			if (auto off = way_off(a)) {
				out.not_used.push_back(*off);
				note_refused(spec, a.programs);
				continue;
			}
			out.programs.insert(out.programs.end(), a.programs.begin(), a.programs.end());
			out.mechanisms.push_back(std::string(a.label));
			out.cost = std::string(a.cost);
		}
	}

	FactPlan plan_fact(const FactSpec &spec)
	{
		FactPlan out;
		out.fact = spec.id;
		if (plan_hooks(spec, out))
			return out;
		out.programs.clear();
		out.standby.clear();
		out.mechanisms.clear();
		for (std::size_t i = 0; i < spec.ways.size(); i++) {
			const Way &w = spec.ways[i];
			if (auto off = way_off(w)) {
				out.not_used.push_back(*off);
				note_refused(spec, w.programs);
				continue;
			}
			out.level = Level::way;
			out.way = static_cast<int>(i);
			out.programs = w.programs;
			out.mechanisms = {std::string(w.label)};
			out.cost = std::string(w.cost);
			plan_adds(spec, out);
			return out;
		}
		out.level = Level::floor;
		out.mechanisms = {std::string(spec.floor)};
		out.cost = std::string(spec.floor);
		return out;
	}
};

FieldSources field_sources(const Plan &p)
{
	FieldSources s;
	auto on = [&](FactId f, Level l) { return p.fact(f).level == l; };
	auto hooked = [&](FactId f) { return on(f, Level::hook); };
	auto served = [&](FactId f) { return !on(f, Level::floor); };
	s.set(TraceField::listen_events, served(FactId::listen) ? Provenance::exact : Provenance::sampled);
	s.set(TraceField::requested_backlog, served(FactId::backlog) ? Provenance::exact : Provenance::not_measured);
	s.set(TraceField::accept_queue_peak, hooked(FactId::enqueue) ? Provenance::exact : Provenance::sampled);
	s.set(TraceField::syn_queue_peak, Provenance::sampled);
	s.set(TraceField::depth_hist, hooked(FactId::enqueue) ? Provenance::exact : Provenance::sampled);
	s.set(TraceField::enqueued, served(FactId::enqueue) ? Provenance::exact : Provenance::not_measured);
	const FactPlan &acc = p.fact(FactId::accept);
	const bool derived = acc.level == Level::way && acc.programs.empty();  // enqueues minus the queue
	s.set(TraceField::accepted, derived ? Provenance::sampled
				    : served(FactId::accept) ? Provenance::exact
							     : Provenance::not_measured);
	s.set(TraceField::hol_wait, served(FactId::queues) ? Provenance::sampled : Provenance::not_measured);
	s.set(TraceField::accept_wait,
	      hooked(FactId::enqueue) && hooked(FactId::accept) ? Provenance::exact : Provenance::not_measured);
	const Provenance syn = hooked(FactId::syn_path) ? Provenance::exact : Provenance::netns_counters;
	for (TraceField x : {TraceField::overflow_syn, TraceField::synq_full_drops, TraceField::synq_full_cookies, TraceField::syncookies_sent})
		s.set(x, syn);
	// Without an ACK-path source, the sk_drops rise no hook explains is the
	// ACK path when tcp_conn_request is hooked; otherwise it cannot be split.
	s.set(TraceField::overflow_ack, served(FactId::ack_path)      ? Provenance::exact
				   : hooked(FactId::syn_path) ? Provenance::sampled
							      : Provenance::not_measured);
	s.set(TraceField::synack_retrans, served(FactId::synack_retrans) ? Provenance::exact : Provenance::not_measured);
	return s;
}

}  // namespace

bool RefusedProgram::function_hook() const
{
	const auto k = parse_prog_kind(kind);
	return k && is_function_hook(*k);
}

std::vector<std::string> Plan::hooks_not_used() const
{
	std::vector<std::string> out;
	for (const FactPlan &p : facts)
		for (const NotUsed &n : p.not_used)
			if (!n.refused && std::find(out.begin(), out.end(), n.brief) == out.end())
				out.push_back(n.brief);
	return out;
}

namespace {

// One pass of make_plan over the plan being made: each reads what the
// passes before it decided and adds its own part.
using PlanPass = void (*)(Planner &pl, Plan &plan);

// Maps first: the ways that need them depend on it.
void plan_maps(Planner &pl, Plan &plan)
{
	const KernelFeatures &f = pl.f;
	const std::vector<Refusal> &refusals = pl.refusals;
	if (auto off = map_off(MapKind::sk_storage, f, refusals)) {
		pl.sk_storage = plan.sk_storage = false;
		if (off->refused)
			pl.refused.push_back({"sk_storage", "map", "queues", off->reason(), off->why, off->err, off->by_user,
					      "no tracked marks",
					      "no tracked-listener pass; a listener closed while being seeded may stay "
					      "up to 10 s"});
	}
	if (auto off = map_off(MapKind::global_data, f, refusals)) {
		// trace_legacy.bpf.o: what it compiles in.
		plan.legacy = plan.perf_buffer = pl.legacy = true;
		pl.sk_storage = plan.sk_storage = false;
		pl.refused.push_back({"global_data", "map", "settings", off->reason(), off->why, off->err, off->by_user,
				      "trace_legacy.bpf.o: its settings in a map",
				      "a map lookup per setting read; events through the perf buffer, no tracked marks, "
				      "listeners keyed by socket pointer (cookie 0)"});
	}
	if (auto off = map_off(MapKind::ringbuf, f, refusals); off && !plan.legacy) {
		plan.perf_buffer = true;
		if (off->refused)
			pl.refused.push_back({"ringbuf", "map", "events", off->reason(), off->why, off->err, off->by_user,
					      "perf buffer", "one buffer per CPU, read every 50 ms and put in time order "
							     "per read"});
	}
}

// Each fact in fact_specs()' order (enqueue before accept: accept's wait
// needs it counted).
void plan_facts(Planner &pl, Plan &plan)
{
	for (const FactSpec &spec : fact_specs()) {
		plan.facts.push_back(pl.plan_fact(spec));
		if (spec.id == FactId::enqueue)
			pl.enqueue_counted = plan.facts.back().level != Level::floor;
	}
}

// Tier 2 keys listeners by skc_cookie: tp_btf/inet_sock_set_state
// generates it for new listeners (else the next full pass does).
void plan_cookie_hook(Planner &pl, Plan &plan)
{
	FactPlan &listen = plan.facts[0];
	if (listen.level == Level::hook && listen.tier == Tier::kprobe && !why_off("on_set_state", pl.f, pl.refusals)) {
		listen.programs.push_back("on_set_state");
		listen.mechanisms.push_back("tp_btf/inet_sock_set_state (cookie)");
	}
}

// Fallback and cost of each refusal: the source its fact uses now (for a
// function hook, the hook of the same function if there is one).
void plan_refusal_costs(Planner &pl, Plan &plan)
{
	for (RefusedProgram &r : pl.refused) {
		if (!r.fallback.empty())
			continue;
		const ProgramSpec *spec = find_program(r.program);
		for (const FactPlan &p : plan.facts) {
			if (fact_name(p.fact) != r.fact)
				continue;
			std::string mech = p.mechanisms.empty() ? std::string() : p.mechanisms.front();
			if (p.level == Level::hook && spec)
				for (const std::string &m : p.mechanisms)
					if (m.size() > spec->target.size() &&
					    m.compare(m.size() - spec->target.size(), spec->target.size(), spec->target) == 0)
						mech = m;
			r.fallback = p.level == Level::hook	 ? std::string(tier_name(p.tier)) + ": " + mech
				     : p.level == Level::floor ? "nothing (" + mech + ")"
							       : mech;
			r.cost = p.level == Level::way ? p.cost : "";
		}
	}
	plan.refused = std::move(pl.refused);
	plan.fields = field_sources(plan);
}

// Every program's state: attached where a fact uses it, standby where one
// keeps it in reserve, else off and why.
void plan_programs(Planner &pl, Plan &plan)
{
	for (const ProgramSpec &spec : trace_programs()) {
		ProgramPlan pp{spec.name, ProgState::off, {}};
		for (const FactPlan &p : plan.facts) {
			if (std::find(p.programs.begin(), p.programs.end(), spec.name) != p.programs.end())
				pp.state = ProgState::attach;
			else if (pp.state == ProgState::off &&
				 std::find(p.standby.begin(), p.standby.end(), spec.name) != p.standby.end())
				pp.state = ProgState::standby;
		}
		if (pp.state == ProgState::off)
			pp.why = why_off(spec, pl.f, pl.refusals).value_or(Off::absent("not needed")).why;
		plan.programs.push_back(std::move(pp));
	}
	const FactPlan &queues = plan.fact(FactId::queues);
	plan.ptr_keys = plan.legacy ||
			std::find(queues.programs.begin(), queues.programs.end(), "sample_walk4") != queues.programs.end();
}

// What makes the plan unusable: no way to read the queues, or an --attach
// tier that nothing can use.
void plan_fatal(Planner &pl, Plan &plan)
{
	const FactPlan &queues = plan.fact(FactId::queues);
	const AttachMode mode = pl.mode;
	if (queues.level == Level::floor) {
		std::string why;
		for (const NotUsed &n : queues.not_used)
			why += (why.empty() ? "" : "; ") + n.text;
		plan.fatal = Error{EOPNOTSUPP, "no way to read the listeners' queues: " + why};
	} else if (mode == AttachMode::kprobe && !pl.f.kind(ProgKind::kprobe).ok) {
		plan.fatal = Error{EOPNOTSUPP, "--attach=kprobe: " + pl.f.kind(ProgKind::kprobe).detail};
	} else if (mode == AttachMode::fentry || mode == AttachMode::kprobe) {
		const Tier want = mode == AttachMode::fentry ? Tier::fentry : Tier::kprobe;
		const bool any = std::any_of(plan.facts.begin(), plan.facts.end(),
					     [&](const FactPlan &p) { return p.level == Level::hook && p.tier == want; });
		std::string why = "?";
		for (const FactPlan &p : plan.facts)
			if (!p.not_used.empty()) {
				why = p.not_used.front().text;
				break;
			}
		if (!any)
			plan.fatal = Error{EOPNOTSUPP, "--attach=" + std::string(tier_name(want)) +
							       ": no function hook can be used (" + why + ")"};
	}
}

// The passes, in order.
constexpr PlanPass kPlanPasses[] = {plan_maps,	       plan_facts,    plan_cookie_hook,
				    plan_refusal_costs, plan_programs, plan_fatal};

}  // namespace

Plan make_plan(const KernelFeatures &f, AttachMode mode, const std::vector<Refusal> &refusals, bool syscalls)
{
	Plan plan;
	plan.mode = mode;
	plan.refusals = refusals;
	plan.syscalls = syscalls;
	Planner pl{f, mode, refusals, true, {}};
	pl.syscalls = syscalls;
	for (PlanPass pass : kPlanPasses)
		pass(pl, plan);
	return plan;
}

}  // namespace listenq
