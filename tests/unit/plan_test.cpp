// The capability plan, from `listenq probe --json` captured on real
// kernels: the 6.18 host build that refuses iter/bpf_sk_storage_map
// (-fc-v857), the Debian 6.1 and 6.12 guests (scripts/vmtest.sh --only
// capture). The other 6.18 build (-fc-v669) differs only in loading that
// iterator (docs/kernels.md: kernels differ per program kind): it is the v857
// capture with that one kind flipped.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <set>

#include "bpf/trace_program.h"
#include "golden.h"
#include "listenq/abi.h"
#include "plan/plan.h"
#include "probe_capture.h"
#include "render/probe_render.h"
#include "render/trace_render.h"
#include "trace.skel.h"

using namespace listenq;
using namespace listenq::testing;

namespace {

KernelFeatures captured(const std::string &name)
{
	auto doc = nlohmann::ordered_json::parse(read_fixture_text(name));
	auto f = features_from_probe_json(doc);
	EXPECT_TRUE(f) << name << ": " << f.error().message;
	return f ? *f : KernelFeatures{};
}

KernelFeatures host_v857() { return captured("probe_host_6.18_v857.json"); }
KernelFeatures host_v1300() { return captured("probe_host_6.18_v1300.json"); }
KernelFeatures guest_61() { return captured("probe_guest_6.1.json"); }
KernelFeatures guest_612() { return captured("probe_guest_6.12.json"); }

KernelFeatures host_v669()
{
	KernelFeatures f = host_v857();
	f.kinds[ProgKind::iter_sk_storage_map] = Capability::yes("iter/bpf_sk_storage_map");
	return f;
}

struct Profile {
	const char *name;
	KernelFeatures (*features)();
};
const Profile kProfiles[] = {{"host 6.18 v857", host_v857},
			     {"host 6.18 v1300", host_v1300},
			     {"host 6.18 v669", host_v669},
			     {"guest 6.1", guest_61},
			     {"guest 6.12", guest_612}};
constexpr AttachMode kModes[] = {AttachMode::automatic, AttachMode::fentry, AttachMode::kprobe,
				 AttachMode::tracepoint};

std::set<std::string> attached(const Plan &p)
{
	std::set<std::string> out;
	for (const ProgramPlan &pp : p.programs)
		if (pp.state == ProgState::attach)
			out.emplace(pp.name);
	return out;
}

std::set<std::string> refused_names(const Plan &p)
{
	std::set<std::string> out;
	for (const RefusedProgram &r : p.refused)
		out.insert(r.program);
	return out;
}

TEST(Plan, TableNamesEveryProgramOfTheObjectWithItsSection)
{
	trace_bpf *s = trace_bpf__open();
	ASSERT_NE(s, nullptr);
	std::set<std::string> in_object;
	bpf_program *p;
	bpf_object__for_each_program(p, s->obj)
	{
		in_object.insert(bpf_program__name(p));
		const ProgramSpec *spec = find_program(bpf_program__name(p));
		ASSERT_NE(spec, nullptr) << bpf_program__name(p) << " is not in trace_programs()";
		EXPECT_EQ(spec->section(), bpf_program__section_name(p)) << spec->name;
	}
	trace_bpf__destroy(s);
	EXPECT_EQ(in_object.size(), trace_programs().size());
}

TEST(Plan, EveryProgramServesAFactAndEveryFactHasAFloorButQueues)
{
	std::set<std::string_view> used;
	for (const FactSpec &f : fact_specs()) {
		for (const HookFn &h : f.hooks)
			for (auto p : {h.fentry, h.kprobe, h.kretprobe})
				if (!p.empty())
					used.insert(p);
		for (const Way &w : f.ways)
			used.insert(w.programs.begin(), w.programs.end());
		for (const Way &w : f.adds)
			used.insert(w.programs.begin(), w.programs.end());
		EXPECT_EQ(f.floor.empty(), f.id == FactId::queues) << fact_name(f.id);
	}
	for (const ProgramSpec &p : trace_programs())
		EXPECT_TRUE(used.count(p.name)) << p.name << " serves no fact";
}

TEST(Plan, ExactMaskBitsAreTheAbiEnum)
{
	Plan p = make_plan(guest_612(), AttachMode::fentry, {}, true);
	ASSERT_FALSE(p.fatal) << p.fatal->message;
	EXPECT_EQ(p.exact_mask(), static_cast<std::uint32_t>(LQ_EXACT_LISTEN | LQ_EXACT_ENQUEUE | LQ_EXACT_ACCEPT |
							    LQ_EXACT_SYN_PATH | LQ_EXACT_ACK_PATH | LQ_EXACT_BACKLOG));
	Plan t = make_plan(guest_612(), AttachMode::tracepoint, {}, true);
	EXPECT_EQ(t.exact_mask(), static_cast<std::uint32_t>(LQ_EXACT_BACKLOG | LQ_TP_ENQUEUE));
	Plan w = make_plan(guest_612(), AttachMode::tracepoint, {}, false);
	EXPECT_EQ(w.exact_mask(), static_cast<std::uint32_t>(LQ_TP_ENQUEUE));
}

// The host this was captured on: no trampolines, no kprobe PMU, and the
// tracked-listener iterator refused.
TEST(Plan, HostV857AutoIsTier3WithFullPassesAndSaysSo)
{
	Plan p = make_plan(host_v857(), AttachMode::automatic, {}, true);
	ASSERT_FALSE(p.fatal);
	EXPECT_EQ(p.tiers(), "tracepoint");
	EXPECT_EQ(p.fact(FactId::listen).mechanisms, std::vector<std::string>{"tp_btf/inet_sock_set_state"});
	EXPECT_EQ(p.fact(FactId::queues).way, 2) << p.fact(FactId::queues).mechanisms.front();
	EXPECT_EQ(p.fact(FactId::enqueue).level, Level::way) << "counted from the children's state changes";
	EXPECT_EQ(p.fact(FactId::ack_path).mechanisms.front(), "tp_btf/kfree_skb (reason TCP_LISTEN_OVERFLOW)");
	EXPECT_EQ(attached(p), (std::set<std::string>{"on_set_state", "on_sys_enter", "on_sys_exit", "on_kfree_skb",
						      "on_retransmit_synack", "sample_listeners", "sample_files"}));
	const auto r = refused_names(p);
	EXPECT_TRUE(r.count("sample_tracked"));
	EXPECT_TRUE(r.count("fx_accept"));
	EXPECT_TRUE(r.count("fn_syn_recv_v6")) << "every function of a fact is listed, not only the first";
	EXPECT_FALSE(r.count("kp_accept")) << "no kprobe PMU is absent, not refused";
	EXPECT_EQ(p.fields.of(TraceField::enqueued), Provenance::exact);
	EXPECT_EQ(p.fields.of(TraceField::accept_queue_peak), Provenance::sampled);
	EXPECT_EQ(p.fields.of(TraceField::overflow_syn), Provenance::netns_counters);
	EXPECT_EQ(p.fields.of(TraceField::overflow_ack), Provenance::exact);
	EXPECT_EQ(p.fields.of(TraceField::accepted), Provenance::exact);
	for (const RefusedProgram &x : p.refused)
		if (x.program == "sample_tracked") {
			EXPECT_EQ(x.reason, "load: Operation not permitted");
			EXPECT_EQ(x.fallback, std::string(fact_spec(FactId::queues).ways[2].label));
			EXPECT_FALSE(x.cost.empty());
		}
}

// -fc-v1272 and -fc-v1300 (captured here): the iter/task_file kind loads,
// but the verifier refuses sample_files (bpf_sk_storage_get on socket->sk:
// untrusted_ptr_), which the capture records as a program refusal. Its raw
// twin stands in beside iter/tcp, and the tracer still runs.
TEST(Plan, HostV1300TakesTheRawFilesWalkWhereSampleFilesIsRefused)
{
	auto doc = nlohmann::ordered_json::parse(read_fixture_text("probe_host_6.18_v1300.json"));
	std::vector<Refusal> kernel;
	for (const auto &r : doc["plan"]["refused"])
		if (r["by"] == "kernel" && r["program"].get<std::string>().rfind("sample_", 0) == 0)
			kernel.push_back(Refusal{r["program"].get<std::string>(), r["errno"].get<int>(), "load", false, {}});
	ASSERT_EQ(kernel.size(), 2u) << "sample_tracked and sample_files, as v1300 refused them";
	EXPECT_TRUE(host_v1300().kinds.at(ProgKind::iter_task_file).ok) << "a kind probe is not a program probe";
	Plan p = make_plan(host_v1300(), AttachMode::automatic, kernel, false);
	ASSERT_FALSE(p.fatal);
	EXPECT_EQ(p.fact(FactId::queues).way, 3) << p.fact(FactId::queues).mechanisms.front();
	EXPECT_TRUE(attached(p).count("sample_files_raw"));
	EXPECT_TRUE(attached(p).count("sample_listeners"));
	EXPECT_FALSE(attached(p).count("sample_files"));
}

// The busy pass (sample_busy: raw_tp, run by BPF_PROG_TEST_RUN) is taken
// on top of the queues way wherever bpf_for_each_map_elem and the test run
// exist and enqueues are counted; refused, the way alone samples, and the
// refusal says so; where the kernel lacks it, it is said, not refused.
TEST(Plan, BusyPassGoesOnTopOfTheQueuesWayWhereItCan)
{
	KernelFeatures f = host_v1300();
	f.test_run_for_each = Capability::yes("bpf_for_each_map_elem, BPF_PROG_TEST_RUN of raw_tp");
	std::vector<Refusal> kernel = {{"sample_tracked", EPERM, "load", false, {}},
				       {"sample_files", EACCES, "load", false, {}}};
	Plan p = make_plan(f, AttachMode::automatic, kernel, false);
	ASSERT_FALSE(p.fatal);
	const FactPlan &q = p.fact(FactId::queues);
	EXPECT_EQ(q.way, 3);
	ASSERT_EQ(q.mechanisms.size(), 2u);
	EXPECT_EQ(q.mechanisms[1].rfind("raw_tp sample_busy (test run)", 0), 0u) << q.mechanisms[1];
	EXPECT_TRUE(attached(p).count("sample_busy"));
	EXPECT_TRUE(attached(p).count("sample_listeners")) << "the walk still seeds";

	std::vector<Refusal> busy_refused = kernel;
	busy_refused.push_back({"sample_busy", EINVAL, "load", false, {}});
	Plan r = make_plan(f, AttachMode::automatic, busy_refused, false);
	EXPECT_FALSE(attached(r).count("sample_busy"));
	EXPECT_EQ(r.fact(FactId::queues).mechanisms.size(), 1u);
	const auto refused = std::find_if(r.refused.begin(), r.refused.end(),
					  [](const RefusedProgram &x) { return x.program == "sample_busy"; });
	ASSERT_NE(refused, r.refused.end());
	EXPECT_EQ(refused->kind, "raw_tp");
	EXPECT_EQ(refused->fallback, r.fact(FactId::queues).mechanisms.front());

	f.test_run_for_each = Capability::no("no bpf_for_each_map_elem for raw_tp (added in 5.13)");
	Plan old = make_plan(f, AttachMode::automatic, kernel, false);
	EXPECT_FALSE(attached(old).count("sample_busy"));
	EXPECT_FALSE(refused_names(old).count("sample_busy")) << "absent, not refused";
	bool said = false;
	for (const NotUsed &n : old.fact(FactId::queues).not_used)
		said |= n.text.find("sample_busy: no bpf_for_each_map_elem") != std::string::npos;
	EXPECT_TRUE(said);

	// Without counted enqueues an idle listener cannot be told from a busy one.
	f.test_run_for_each = Capability::yes("x");
	std::vector<Refusal> no_enqueue = kernel;
	for (const char *p : {"on_set_state", "raw_set_state", "tp_set_state"})
		no_enqueue.push_back({p, EPERM, "load", true, {}});
	EXPECT_FALSE(attached(make_plan(f, AttachMode::automatic, no_enqueue, false)).count("sample_busy"));
}

// watch, hist and export by default: no hook on every syscall. Enqueues
// come from the children's state changes, accepts from enqueues and the
// queue, re-listens from the sampled backlog.
TEST(Plan, HostV857WithoutSyscallHooksDerivesAccepts)
{
	Plan p = make_plan(host_v857(), AttachMode::automatic, {}, false);
	ASSERT_FALSE(p.fatal);
	EXPECT_FALSE(p.syscalls);
	for (const char *prog : {"on_sys_enter", "on_sys_exit", "raw_sys_enter", "raw_sys_exit", "tp_sys_enter", "tp_sys_exit"})
		EXPECT_EQ(p.program(prog).state, ProgState::off) << prog;
	EXPECT_EQ(p.fact(FactId::backlog).level, Level::floor);
	const FactPlan &acc = p.fact(FactId::accept);
	EXPECT_EQ(acc.level, Level::way);
	EXPECT_TRUE(acc.programs.empty());
	EXPECT_EQ(acc.mechanisms, std::vector<std::string>{"enqueues minus the sampled accept queue"});
	EXPECT_EQ(p.fact(FactId::enqueue).programs, std::vector<std::string_view>{"on_set_state"});
	EXPECT_EQ(p.exact_mask(), static_cast<std::uint32_t>(LQ_TP_ENQUEUE));
	EXPECT_EQ(p.fields.of(TraceField::accepted), Provenance::sampled);
	EXPECT_EQ(p.fields.of(TraceField::enqueued), Provenance::exact);
	EXPECT_EQ(p.fields.of(TraceField::requested_backlog), Provenance::not_measured);
	EXPECT_EQ(p.fields.of(TraceField::hol_wait), Provenance::sampled);
	EXPECT_EQ(attached(p), (std::set<std::string>{"on_set_state", "on_kfree_skb", "on_retransmit_synack",
						      "sample_listeners", "sample_files"}));
	// With them (trace, --syscalls): the requested backlog, and accepts at
	// the syscall exit.
	Plan s = make_plan(host_v857(), AttachMode::automatic, {}, true);
	EXPECT_EQ(s.exact_mask(), static_cast<std::uint32_t>(LQ_EXACT_BACKLOG | LQ_TP_ENQUEUE));
	EXPECT_EQ(s.fact(FactId::accept).mechanisms, std::vector<std::string>{"tp_btf/sys_enter+sys_exit"});
	EXPECT_EQ(s.fields.of(TraceField::accepted), Provenance::exact);
	// Without sk_storage no child names its listener: no enqueues, so no
	// accepts either unless the syscall hooks run.
	Plan n = make_plan(host_v857(), AttachMode::automatic, {Refusal{"sk_storage", EPERM, "load", true, {}}}, false);
	EXPECT_EQ(n.fact(FactId::enqueue).level, Level::floor);
	EXPECT_EQ(n.fact(FactId::accept).level, Level::floor);
	EXPECT_EQ(n.fields.of(TraceField::accepted), Provenance::not_measured);
}

TEST(Plan, HostV669TracksListenersAndFullPassesEvery5s)
{
	Plan p = make_plan(host_v669(), AttachMode::automatic, {}, true);
	ASSERT_FALSE(p.fatal);
	EXPECT_EQ(p.fact(FactId::queues).way, 0);
	EXPECT_TRUE(attached(p).count("sample_tracked"));
	EXPECT_FALSE(refused_names(p).count("sample_tracked"));
}

TEST(Plan, ForcedTiersTheHostCannotGiveAreErrorsThatSayWhy)
{
	Plan f = make_plan(host_v857(), AttachMode::fentry, {}, true);
	ASSERT_TRUE(f.fatal);
	EXPECT_NE(f.fatal->message.find("--attach=fentry: no function hook can be used"), std::string::npos)
		<< f.fatal->message;
	EXPECT_NE(f.fatal->message.find("Operation not permitted"), std::string::npos) << f.fatal->message;
	Plan k = make_plan(host_v857(), AttachMode::kprobe, {}, true);
	ASSERT_TRUE(k.fatal);
	EXPECT_NE(k.fatal->message.find("--attach=kprobe: no kprobe PMU"), std::string::npos) << k.fatal->message;
	Plan t = make_plan(host_v857(), AttachMode::tracepoint, {}, true);
	EXPECT_FALSE(t.fatal);
	EXPECT_FALSE(refused_names(t).count("fx_accept")) << "--attach=tracepoint never wanted fentry";
}

TEST(Plan, Guest612AutoIsAllFentryWithKprobeTwinsOnStandby)
{
	Plan p = make_plan(guest_612(), AttachMode::automatic, {}, true);
	ASSERT_FALSE(p.fatal);
	EXPECT_EQ(p.tiers(), "fentry");
	EXPECT_EQ(p.fact(FactId::accept).mechanisms, std::vector<std::string>{"fexit/inet_csk_accept"});
	EXPECT_EQ(p.program("kp_accept").state, ProgState::standby);
	EXPECT_EQ(p.program("krp_accept").state, ProgState::standby);
	EXPECT_EQ(p.program("on_set_state").state, ProgState::off) << "fexit/inet_csk_listen_start has listen";
	EXPECT_TRUE(p.refused.empty());
	for (TraceField x : kAllFields) {
		if (x != TraceField::syn_queue_peak && x != TraceField::hol_wait) {
			EXPECT_EQ(p.fields.of(x), Provenance::exact) << field_name(x);
		}
	}
}

TEST(Plan, Guest612KprobeKeepsTheCookieGenerator)
{
	Plan p = make_plan(guest_612(), AttachMode::kprobe, {}, true);
	ASSERT_FALSE(p.fatal);
	EXPECT_EQ(p.tiers(), "kprobe");
	EXPECT_TRUE(attached(p).count("on_set_state"));
	EXPECT_EQ(p.fact(FactId::listen).mechanisms.back(), "tp_btf/inet_sock_set_state (cookie)");
}

// Debian 6.1: tcp_v{4,6}_syn_recv_sock take 7 arguments (backported) and
// the 6.1 trampoline takes at most 6: their fexit attach fails.
TEST(Plan, Guest61AckPathTakesTheKprobeTwinOrTier3WhenForced)
{
	Plan a = make_plan(guest_61(), AttachMode::automatic, {}, true);
	ASSERT_FALSE(a.fatal);
	EXPECT_EQ(a.tiers(), "fentry+kprobe");
	EXPECT_EQ(a.fact(FactId::ack_path).tier, Tier::kprobe);
	EXPECT_EQ(a.fact(FactId::accept).tier, Tier::fentry);
	Plan f = make_plan(guest_61(), AttachMode::fentry, {}, true);
	ASSERT_FALSE(f.fatal);
	EXPECT_EQ(f.tiers(), "fentry+tracepoint");
	EXPECT_EQ(f.fact(FactId::ack_path).level, Level::floor) << "no drop reason before 6.15";
	EXPECT_EQ(f.fields.of(TraceField::overflow_ack), Provenance::sampled) << "the sk_drops rise, SYN path hooked";
	Plan t = make_plan(guest_61(), AttachMode::tracepoint, {}, true);
	EXPECT_EQ(t.fields.of(TraceField::overflow_ack), Provenance::not_measured);
}

TEST(Plan, EveryProfileUnderEveryModeIsDecidedAndConsistent)
{
	for (const Profile &prof : kProfiles)
		for (AttachMode m : kModes) {
			SCOPED_TRACE(std::string(prof.name) + " --attach=" + std::string(attach_mode_name(m)));
			Plan p = make_plan(prof.features(), m, {}, true);
			if (p.fatal) {
				EXPECT_TRUE(m == AttachMode::fentry || m == AttachMode::kprobe) << p.fatal->message;
				continue;
			}
			ASSERT_EQ(p.facts.size(), fact_specs().size());
			// What the plan attaches loads; what a fact uses is attached.
			for (const FactPlan &fp : p.facts)
				for (auto prog : fp.programs)
					EXPECT_EQ(p.program(prog).state, ProgState::attach) << prog;
			EXPECT_NE(p.fact(FactId::queues).level, Level::floor);
			if (m == AttachMode::tracepoint) {  // no function-hook bit
				EXPECT_EQ(p.exact_mask() & ~static_cast<std::uint32_t>(LQ_EXACT_BACKLOG | LQ_TP_ENQUEUE), 0u);
			}
		}
}

// The promise at the plan level: any one refused program leaves a
// way to read the listeners, under every profile, and says what it lost.
TEST(Plan, AnySingleRefusedProgramLeavesAPlanThatSaysSo)
{
	for (const Profile &prof : kProfiles) {
		const KernelFeatures f = prof.features();
		const Plan base = make_plan(f, AttachMode::automatic, {}, true);
		for (const ProgramSpec &spec : trace_programs()) {
			SCOPED_TRACE(std::string(prof.name) + ", " + std::string(spec.name) + " refused");
			Plan p = make_plan(f, AttachMode::automatic, {Refusal{std::string(spec.name), EPERM, "load", true, {}}}, true);
			ASSERT_FALSE(p.fatal) << p.fatal->message;
			EXPECT_EQ(p.program(spec.name).state, ProgState::off);
			if (base.program(spec.name).state == ProgState::attach) {
				EXPECT_TRUE(refused_names(p).count(std::string(spec.name))) << "a refusal is never silent";
			}
		}
		for (MapKind m : kAllMapKinds) {
			Plan p = make_plan(f, AttachMode::automatic, {Refusal{std::string(map_kind_name(m)), EPERM, "load", true, {}}}, true);
			ASSERT_FALSE(p.fatal);
			EXPECT_TRUE(refused_names(p).count(std::string(map_kind_name(m))));
		}
	}
}

TEST(Plan, RefusalsFallBackAlongTheTable)
{
	const KernelFeatures f = host_v669();
	auto plan_without = [&](std::vector<std::string> what) {
		std::vector<Refusal> r;
		for (auto &w : what)
			r.push_back(Refusal{w, EPERM, "load", true, {}});
		return make_plan(f, AttachMode::automatic, r, true);
	};
	Plan untracked = plan_without({"sample_tracked"});
	EXPECT_EQ(untracked.fact(FactId::queues).way, 2) << "the cheaper walk each sample, iter/tcp every 5 s";
	EXPECT_EQ(attached(untracked).count("sample_files"), 1u);
	EXPECT_EQ(attached(untracked).count("sample_listeners"), 1u);
	// -fc-v1272: sample_files refused by the verifier, its raw twin beside
	// iter/tcp instead.
	Plan v1272 = plan_without({"sample_tracked", "sample_files"});
	EXPECT_EQ(v1272.fact(FactId::queues).way, 3) << "the cheaper of the raw files walk and iter/tcp";
	EXPECT_EQ(attached(v1272).count("sample_files_raw"), 1u);
	EXPECT_EQ(attached(v1272).count("sample_listeners"), 1u);
	EXPECT_EQ(plan_without({"sample_tracked", "sample_files", "sample_files_raw"}).fact(FactId::queues).mechanisms,
		  std::vector<std::string>{"iter/tcp full pass of each tracked netns each sample"})
		<< "the issue's fallback: setns into each tracked netns";
	EXPECT_EQ(plan_without({"sample_listeners"}).fact(FactId::queues).way, 1) << "iter/task_file full passes";
	EXPECT_EQ(plan_without({"iter/tcp", "iter/bpf_sk_storage_map"}).fact(FactId::queues).way, 5)
		<< "iter/task_file only (it keeps the cookies; the walk comes after it); the raw files walk needs iter/tcp";
	EXPECT_EQ(plan_without({"tp_btf"}).fact(FactId::listen).mechanisms.front(), "raw_tp/inet_sock_set_state");
	EXPECT_EQ(plan_without({"tp_btf", "raw_tp"}).fact(FactId::listen).mechanisms.front(),
		  "tracepoint/sock/inet_sock_set_state");
	Plan no_tp = plan_without({"tp_btf", "raw_tp", "tracepoint"});
	EXPECT_EQ(no_tp.fields.of(TraceField::listen_events), Provenance::sampled);
	EXPECT_EQ(no_tp.fields.of(TraceField::requested_backlog), Provenance::not_measured);
	EXPECT_EQ(no_tp.fields.of(TraceField::accepted), Provenance::not_measured);
	EXPECT_EQ(no_tp.fields.of(TraceField::synack_retrans), Provenance::not_measured);
	EXPECT_EQ(no_tp.fields.of(TraceField::overflow_ack), Provenance::not_measured);
	EXPECT_FALSE(no_tp.fatal) << "the iterators still read the queues";
	Plan no_sys = plan_without({"on_sys_exit", "raw_sys_exit", "tp_sys_exit"});
	EXPECT_EQ(no_sys.fields.of(TraceField::requested_backlog), Provenance::not_measured);
	EXPECT_EQ(no_sys.program("on_sys_enter").state, ProgState::off) << "a way needs all of its programs";
	EXPECT_TRUE(plan_without({"ringbuf"}).perf_buffer);
	Plan no_storage = plan_without({"sk_storage"});
	EXPECT_FALSE(no_storage.sk_storage);
	EXPECT_EQ(no_storage.fact(FactId::queues).way, 2);
	Plan none = plan_without({"iter/tcp", "iter/bpf_sk_storage_map", "iter/task_file"});
	ASSERT_TRUE(none.fatal);
	EXPECT_NE(none.fatal->message.find("no way to read the listeners' queues"), std::string::npos);
	EXPECT_NE(none.fatal->message.find("refused by LISTENQ_REFUSE"), std::string::npos) << none.fatal->message;
	EXPECT_FALSE(none.ptr_keys);
}

TEST(Plan, AFailedAttachOfAFentryTakesTheStandbyTwin)
{
	// As the tracer re-plans after fexit/tcp_v4_syn_recv_sock fails to
	// attach on 6.1 (when the per-function probe did not run).
	KernelFeatures f = guest_612();
	Plan before = make_plan(f, AttachMode::automatic, {}, true);
	Plan after = make_plan(f, AttachMode::automatic, {Refusal{"fn_syn_recv_v4", 524, "attach", false, {}}}, true);
	EXPECT_EQ(before.program("kp_syn_recv_v4").state, ProgState::standby);
	EXPECT_EQ(after.program("kp_syn_recv_v4").state, ProgState::attach);
	EXPECT_EQ(after.fact(FactId::ack_path).tier, Tier::kprobe);
	ASSERT_EQ(after.refused.size(), 1u);
	EXPECT_EQ(after.refused[0].reason, "attach: ENOTSUPP");
	EXPECT_EQ(after.refused[0].fallback, "kprobe: kprobe/tcp_v4_syn_recv_sock");
}

TEST(Plan, RefusalKnobParsing)
{
	auto ok = parse_refusals("sample_tracked,iter/tcp,tp_btf/sys_exit,ringbuf,,fentry");
	ASSERT_TRUE(ok) << ok.error().message;
	ASSERT_EQ(ok->size(), 5u);
	EXPECT_TRUE((*ok)[0].by_user);
	EXPECT_EQ((*ok)[0].err, EPERM);
	const ProgramSpec *exit = find_program("on_sys_exit");
	EXPECT_TRUE((*ok)[2].matches(*exit));
	EXPECT_FALSE((*ok)[0].matches(*exit));
	auto bad = parse_refusals("sample_trackd");
	ASSERT_FALSE(bad);
	EXPECT_NE(bad.error().message.find("LISTENQ_REFUSE: sample_trackd is no program"), std::string::npos);
}

// libbpf 1.1's words when the v857 host refuses a program (captured).
TEST(Plan, TheRefusedProgramIsReadFromLibbpfsLog)
{
	const std::string log =
		"libbpf: prog 'sample_tracked': BPF program load failed: Operation not permitted\n"
		"libbpf: permission error while running as root; try raising 'ulimit -l'? current value: 8.0 MiB\n"
		"libbpf: prog 'sample_tracked': -- BEGIN PROG LOAD LOG --\n"
		"processed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
		"-- END PROG LOAD LOG --\n"
		"libbpf: prog 'sample_tracked': failed to load: -1\n"
		"libbpf: failed to load object 'trace_bpf'\n";
	auto r = refusal_from_libbpf_log(log, EPERM);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->what, "sample_tracked");
	EXPECT_EQ(r->stage, "load");
	EXPECT_EQ(r->err, EPERM);
	EXPECT_EQ(r->detail, "");  // refused before the verifier ran
	auto m = refusal_from_libbpf_log("libbpf: map 'events': failed to create: Operation not permitted(-1)\n", EPERM);
	ASSERT_TRUE(m);
	EXPECT_EQ(m->what, "ringbuf");
	EXPECT_FALSE(refusal_from_libbpf_log("libbpf: something else\n", EPERM));
	// A map it cannot do without is no refusal to plan around: an error.
	const std::string big = "libbpf: map 'listeners': failed to create: Cannot allocate memory(-12)\n";
	EXPECT_FALSE(refusal_from_libbpf_log(big, ENOMEM));
	auto m2 = failed_map_in_libbpf_log(big);
	ASSERT_TRUE(m2);
	EXPECT_EQ(m2->first, "listeners");
}

// Debian 5.10.262 refusing a fentry program: BTF programs may call
// bpf_get_socket_cookie() only since 5.12 (captured, the log cut short).
TEST(Plan, TheVerifiersVerdictIsReadFromItsLog)
{
	const std::string log =
		"libbpf: prog 'fn_conn_request': BPF program load failed: Invalid argument\n"
		"libbpf: prog 'fn_conn_request': -- BEGIN PROG LOAD LOG --\n"
		"0: (79) r6 = *(u64 *)(r1 +0)\n"
		"...\n"
		"9: (85) call bpf_get_socket_cookie#46\n"
		"unknown func bpf_get_socket_cookie#46\n"
		"processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
		"-- END PROG LOAD LOG --\n"
		"libbpf: prog 'fn_conn_request': failed to load: -22\n"
		"libbpf: failed to load object 'trace_bpf'\n";
	auto r = refusal_from_libbpf_log(log, EINVAL);
	ASSERT_TRUE(r);
	EXPECT_EQ(r->what, "fn_conn_request");
	EXPECT_EQ(r->detail, "unknown func bpf_get_socket_cookie#46");
	// The plan names it where it says why the fentry tier is off.
	Plan p = make_plan(guest_612(), AttachMode::automatic, {*r}, true);
	ASSERT_FALSE(p.fact(FactId::syn_path).not_used.empty());
	EXPECT_NE(p.fact(FactId::syn_path).not_used[0].text.find("load fentry/tcp_conn_request: " + errno_name(EINVAL) +
								     " (unknown func bpf_get_socket_cookie#46)"),
		  std::string::npos)
		<< p.fact(FactId::syn_path).not_used[0].text;
}

// Where libbpf names no program, halves find it, and it is confirmed alone.
TEST(Plan, BisectionFindsTheOneRefusedProgramAndNothingElse)
{
	std::set<std::string> all;
	for (const ProgramSpec &p : trace_programs())
		all.emplace(p.name);
	for (const std::string &bad : {std::string("on_sys_exit"), std::string("sample_tracked"), *all.begin(), *all.rbegin()}) {
		int loads = 0;
		auto found = find_refused_by_bisection(all, [&](const std::set<std::string> &s) -> Result<int> {
			loads++;
			return s.count(bad) ? EPERM : 0;
		});
		ASSERT_TRUE(found);
		ASSERT_TRUE(*found) << bad;
		EXPECT_EQ(**found, bad);
		EXPECT_LE(loads, 8) << "log2 of the object, plus the confirmation";
	}
	// A failure no single program causes (the object as a whole): none.
	auto none = find_refused_by_bisection(all, [&](const std::set<std::string> &s) -> Result<int> {
		return s.size() == all.size() ? E2BIG : 0;
	});
	ASSERT_TRUE(none);
	EXPECT_FALSE(*none);
	auto broken = find_refused_by_bisection(all, [](const std::set<std::string> &) -> Result<int> {
		return Error{ENOMEM, "open BPF object trace_bpf"};
	});
	EXPECT_FALSE(broken);
}

// probe prints the Plan the tracer carries out: the header of watch/trace
// is made from the same object, so the two cannot disagree.
TEST(Plan, ProbeAndTraceHeaderShowOneAndTheSamePlan)
{
	for (const Profile &prof : kProfiles) {
		SCOPED_TRACE(prof.name);
		const Plan p = make_plan(prof.features(), AttachMode::automatic, {}, true);
		const auto probe = plan_to_json(p);
		const TraceHeader h = TraceHeader::of(p, {}, 100);
		const auto trace = trace_header_json(h);
		EXPECT_EQ(probe["tier"], trace["tier"]);
		EXPECT_EQ(probe["refused"], trace["refused"]);
		EXPECT_EQ(probe["events_via"], trace["events_via"]);
		for (TraceField x : kAllFields) {
			const std::string src = probe["fields"][std::string(field_name(x))];
			auto in = [&](const char *key) {
				const auto &v = trace[key];
				return std::find(v.begin(), v.end(), std::string(field_name(x))) != v.end();
			};
			EXPECT_EQ(src == "sampled", in("sampled")) << field_name(x);
			EXPECT_EQ(src == "not_measured", in("unmeasured")) << field_name(x);
			EXPECT_EQ(src == "netns_counters", in("attributed")) << field_name(x);
		}
	}
}

}  // namespace

// The seed's class of kernel, as simulated in the guests: no kernel BTF
// (so no fentry, tp_btf or iterator), the ringbuf refused, kprobes there.
TEST(Plan, SeedClassKernelSamplesByTheKprobeWalk)
{
	KernelFeatures f = guest_61();
	f.btf = Capability::no("no kernel BTF at /sys/kernel/btf/vmlinux");
	for (ProgKind k : {ProgKind::fentry, ProgKind::fexit, ProgKind::tp_btf, ProgKind::iter_tcp,
			   ProgKind::iter_sk_storage_map, ProgKind::iter_task_file})
		f.kinds[k] = Capability::no("no kernel BTF");
	const Plan p = make_plan(f, AttachMode::automatic, {Refusal{"ringbuf", EPERM, "load", true, {}}}, true);
	ASSERT_FALSE(p.fatal) << p.fatal->message;
	EXPECT_EQ(p.fact(FactId::queues).mechanisms,
		  std::vector<std::string>{"kprobe walk of /proc/net/tcp{,6} in each tracked netns each sample"});
	EXPECT_TRUE(p.ptr_keys) << "no program there can make a socket cookie";
	EXPECT_TRUE(p.perf_buffer);
	EXPECT_EQ(p.program("sample_walk4").state, ProgState::attach);
	EXPECT_EQ(p.program("sample_walk6").state, ProgState::attach);
	for (FactId fact : {FactId::listen, FactId::enqueue, FactId::accept, FactId::syn_path, FactId::ack_path})
		EXPECT_EQ(p.fact(fact).tier, Tier::kprobe) << fact_name(fact);
	EXPECT_EQ(p.fields.of(TraceField::overflow_ack), Provenance::exact);
	EXPECT_EQ(p.fields.of(TraceField::overflow_syn), Provenance::exact);

	// With an iterator the cookies stay: the walk is not chosen.
	EXPECT_FALSE(make_plan(guest_61(), AttachMode::automatic, {}, true).ptr_keys);
}
