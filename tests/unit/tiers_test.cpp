// The tier decision table, driven by feature sets: one captured with
// `listenq probe --json` on the 6.18 host, others built from the guest
// measurements in DESIGN ("Machines we have").
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "plan/plan.h"
#include "golden.h"
#include "render/probe_render.h"

using namespace listenq;
using namespace listenq::testing;

namespace {

KernelFeatures host_618()
{
	auto doc = nlohmann::ordered_json::parse(read_fixture_text("probe_host_6.18.json"));
	auto f = features_from_probe_json(doc);
	EXPECT_TRUE(f) << f.error().message;
	return f ? *f : KernelFeatures{};
}

// Everything works (Debian 6.12 guest: fentry, kprobe, tp_btf, iter/tcp).
KernelFeatures guest_612()
{
	KernelFeatures f;
	f.btf = f.prog_tracing = f.kprobe_pmu = f.tp_btf = f.raw_tp = f.iter_tcp = f.ringbuf = f.sk_storage =
		Capability::yes("ok");
	f.kfree_skb_listen_overflow = Capability::no("no SKB_DROP_REASON_TCP_LISTEN_OVERFLOW (added in 6.15)");
	for (const HookSpec &s : hook_specs())
		f.hooks.push_back({std::string(s.name), std::string(s.functions.front()), Capability::yes("fentry"),
				   Capability::yes("kprobe")});
	return f;
}

// Debian 6.1: tcp_v{4,6}_syn_recv_sock has 7 args (backported) and the 6.1
// trampoline takes at most 6: fexit attach fails with ENOTSUPP.
KernelFeatures guest_61()
{
	KernelFeatures f = guest_612();
	for (auto &h : f.hooks) {
		if (h.hook == "listen")
			h.function = "inet_listen";  // no __inet_listen_sk before 6.6
		if (h.hook.rfind("syn_recv_sock", 0) == 0)
			h.fentry = Capability::no("attach fentry/" + h.function + ": ENOTSUPP (524)");
	}
	return f;
}

const HookDecision &find(const std::vector<HookDecision> &ds, const std::string &hook)
{
	for (const auto &d : ds)
		if (d.hook == hook)
			return d;
	throw std::runtime_error("no hook " + hook);
}

TEST(Tiers, EveryHookOfDesignIsListedOnce)
{
	std::vector<std::string> names;
	for (const auto &s : hook_specs())
		names.emplace_back(s.name);
	EXPECT_EQ(names, (std::vector<std::string>{"listen_start", "listen", "queue_add", "accept", "conn_request",
						   "syn_recv_sock_v4", "syn_recv_sock_v6", "listen_stop"}));
}

TEST(Tiers, Host618AutoFallsToTracepointsForEveryHook)
{
	auto ds = decide_tiers(host_618(), AttachMode::automatic);
	ASSERT_EQ(ds.size(), hook_specs().size());
	for (const auto &d : ds) {
		EXPECT_EQ(d.tier, Tier::tracepoint) << d.hook;
		ASSERT_EQ(d.skipped.size(), 2u) << d.hook;
		EXPECT_NE(d.skipped[0].find("fentry: load f"), std::string::npos) << d.skipped[0];
		EXPECT_NE(d.skipped[0].find("Operation not permitted"), std::string::npos);
		EXPECT_NE(d.skipped[1].find("kprobe: no kprobe PMU"), std::string::npos) << d.skipped[1];
	}
	EXPECT_EQ(find(ds, "listen_start").mechanism, "tp_btf/inet_sock_set_state");
	EXPECT_EQ(find(ds, "listen").mechanism, "tp_btf/sys_exit");
	EXPECT_EQ(find(ds, "accept").mechanism, "tp_btf/sys_exit");
	EXPECT_TRUE(find(ds, "queue_add").sampled);
	EXPECT_TRUE(find(ds, "conn_request").sampled);
	// 6.18 has SKB_DROP_REASON_TCP_LISTEN_OVERFLOW: ACK-path drops are exact.
	EXPECT_EQ(find(ds, "syn_recv_sock_v4").mechanism, "tp_btf/kfree_skb (reason TCP_LISTEN_OVERFLOW)");
	EXPECT_FALSE(find(ds, "syn_recv_sock_v4").sampled);
}

TEST(Tiers, Host618ForcedFentryOrKprobeFallsToTracepoints)
{
	for (auto mode : {AttachMode::fentry, AttachMode::kprobe}) {
		for (const auto &d : decide_tiers(host_618(), mode)) {
			EXPECT_EQ(d.tier, Tier::tracepoint) << d.hook;
			ASSERT_EQ(d.skipped.size(), 1u);
			EXPECT_EQ(d.skipped[0].rfind(std::string(attach_mode_name(mode)) + ": ", 0), 0u);
		}
	}
}

TEST(Tiers, Guest61ForcedFentryLeavesTheAckPathToTier3NotKprobes)
{
	auto ds = decide_tiers(guest_61(), AttachMode::fentry);
	EXPECT_EQ(find(ds, "accept").tier, Tier::fentry);
	EXPECT_EQ(find(ds, "conn_request").tier, Tier::fentry);
	for (const char *h : {"syn_recv_sock_v4", "syn_recv_sock_v6"}) {
		EXPECT_EQ(find(ds, h).tier, Tier::tracepoint) << h;
		EXPECT_TRUE(find(ds, h).sampled) << h;
		EXPECT_NE(find(ds, h).skipped.at(0).find("ENOTSUPP"), std::string::npos);
	}
}

TEST(Tiers, Guest612UsesTrampolinesEverywhere)
{
	for (const auto &d : decide_tiers(guest_612(), AttachMode::automatic)) {
		EXPECT_EQ(d.tier, Tier::fentry) << d.hook;
		EXPECT_TRUE(d.skipped.empty());
	}
	auto ds = decide_tiers(guest_612(), AttachMode::automatic);
	EXPECT_EQ(find(ds, "accept").mechanism, "fexit/inet_csk_accept");
	EXPECT_EQ(find(ds, "conn_request").mechanism, "fentry/tcp_conn_request");
	EXPECT_EQ(find(ds, "listen").mechanism, "fexit/__inet_listen_sk");
}

TEST(Tiers, Guest61SynRecvSockFallsBackToKprobeAlone)
{
	auto ds = decide_tiers(guest_61(), AttachMode::automatic);
	EXPECT_EQ(find(ds, "syn_recv_sock_v4").tier, Tier::kprobe);
	EXPECT_EQ(find(ds, "syn_recv_sock_v4").mechanism, "kprobe/tcp_v4_syn_recv_sock");
	EXPECT_NE(find(ds, "syn_recv_sock_v4").skipped.at(0).find("ENOTSUPP"), std::string::npos);
	EXPECT_EQ(find(ds, "syn_recv_sock_v6").tier, Tier::kprobe);
	EXPECT_EQ(find(ds, "listen").mechanism, "fexit/inet_listen");
	EXPECT_EQ(find(ds, "accept").tier, Tier::fentry);
}

TEST(Tiers, ForcedTracepointWithoutDropReasonSamplesTheAckPath)
{
	auto ds = decide_tiers(guest_61(), AttachMode::tracepoint);
	for (const auto &d : ds)
		EXPECT_EQ(d.tier, Tier::tracepoint) << d.hook;
	EXPECT_EQ(find(ds, "syn_recv_sock_v4").mechanism, "iter/tcp sampling");
	EXPECT_TRUE(find(ds, "syn_recv_sock_v4").sampled);
}

TEST(Tiers, NoBtfKernelUsesKprobesAndRawTracepoints)
{
	KernelFeatures f = guest_612();
	f.btf = f.tp_btf = f.iter_tcp = f.prog_tracing = Capability::no("no kernel BTF");
	for (auto &h : f.hooks)
		h.fentry = Capability::no("no kernel BTF");
	for (const auto &d : decide_tiers(f, AttachMode::automatic))
		EXPECT_EQ(d.tier, Tier::kprobe) << d.hook;
	auto tp = decide_tiers(f, AttachMode::tracepoint);
	EXPECT_EQ(find(tp, "listen_start").mechanism, "raw_tp/inet_sock_set_state");
	EXPECT_EQ(find(tp, "queue_add").tier, Tier::none);  // sampling needs iter/tcp
	EXPECT_NE(find(tp, "queue_add").skipped.at(0).find("no iter/tcp"), std::string::npos);
}

TEST(Tiers, HookMissingFromFeatureSetIsReportedNotCrashed)
{
	KernelFeatures f = guest_612();
	f.hooks.erase(f.hooks.begin());  // listen_start not probed
	auto ds = decide_tiers(f, AttachMode::fentry);
	EXPECT_EQ(find(ds, "listen_start").tier, Tier::tracepoint);
	EXPECT_NE(find(ds, "listen_start").skipped.at(0).find("not probed"), std::string::npos);
}

TEST(Tiers, FixedFeatureSourceIsTheMock)
{
	FixedFeatureSource src(guest_61());
	EXPECT_EQ(&src.features(), &src.features());
	EXPECT_EQ(src.features().hook("listen")->function, "inet_listen");
}

}  // namespace
