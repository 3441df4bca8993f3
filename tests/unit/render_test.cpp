#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <sstream>

#include "golden.h"
#include "probe_capture.h"
#include "render/probe_render.h"
#include "render/snapshot_render.h"
#include "render/table.h"

using namespace listenq;
using namespace listenq::testing;

namespace {

Listener make(int family, const char *addr, std::uint16_t port, std::uint32_t q, std::uint32_t max)
{
	Listener l;
	l.family = family;
	inet_pton(family, addr, l.addr.data());
	l.port = port;
	l.accept_queue = q;
	l.backlog = max;
	l.netns = 4026531840u;
	l.cookie = 4096u + port;
	l.inode = 10000u + port;
	return l;
}

Snapshot sample_snapshot()
{
	Snapshot s;
	s.source = "iter/tcp";
	s.netns = 4026531840u;
	s.listeners.push_back(make(AF_INET, "0.0.0.0", 22, 0, 128));
	s.listeners.back().processes = {{612, 3, "sshd"}};
	s.listeners.push_back(make(AF_INET6, "::", 22, 0, 128));
	s.listeners.back().processes = {{612, 4, "sshd"}};
	s.listeners.push_back(make(AF_INET, "127.0.0.1", 8080, 5, 17));
	s.listeners.back().syn_queue = 2;
	s.listeners.back().syn_young = 1;
	s.listeners.back().drops = 31;
	s.listeners.back().processes = {{900, 5, "app"}, {901, 5, "app"}, {902, 5, "app"}};
	s.listeners.push_back(make(AF_INET, "127.0.0.53", 53, 0, 4096));
	s.listeners.back().bound_dev_if = 1;
	s.listeners.back().reuseport = true;
	sort_listeners(s.listeners);
	s.processes_resolved = true;
	return s;
}

SnapshotTextOptions fixed_names()
{
	SnapshotTextOptions o;
	o.service_name = [](std::uint16_t p) { return p == 22 ? std::string("ssh") : std::string(); };
	o.ifname = [](std::uint32_t i) { return i == 1 ? std::string("lo") : std::to_string(i); };
	return o;
}

TEST(Render, SnapshotText)
{
	std::ostringstream os;
	render_snapshot_text(os, sample_snapshot(), fixed_names());
	expect_golden("snapshot.txt", os.str());
}

TEST(Render, SnapshotTextNumericWithProcesses)
{
	SnapshotTextOptions o = fixed_names();
	o.numeric = true;
	o.show_processes = true;
	std::ostringstream os;
	render_snapshot_text(os, sample_snapshot(), o);
	expect_golden("snapshot_np.txt", os.str());
	std::istringstream in(os.str());
	for (std::string line; std::getline(in, line);)
		EXPECT_LE(line.size(), 80u) << line;
}

TEST(Render, SnapshotJson)
{
	expect_golden("snapshot.json", snapshot_to_json(sample_snapshot()).dump(2) + "\n");
}

// Every BPF snapshot program refused: inet_diag stands in. The backlog is
// still true; the SYN queue is unknown ("-", null), never a made-up 0, and
// the refusal is said first.
TEST(Render, SnapshotFromInetDiagShowsTheSynQueueUnknownAndWhy)
{
	Snapshot s = sample_snapshot();
	s.source = "inet_diag";
	s.syn_queue_known = false;
	s.notes = {"iter/tcp dump_listeners: load: Operation not permitted; iter/task_file dump_files: load: "
		   "Operation not permitted: read with inet_diag instead; the SYN queue is unknown"};
	std::ostringstream os;
	render_snapshot_text(os, s, fixed_names());
	const std::string t = os.str();
	EXPECT_EQ(t.rfind("listenq snapshot: source inet_diag, netns 4026531840, 4 listeners\nrefused: iter/tcp "
			  "dump_listeners: load: Operation not permitted;",
			  0),
		  0u)
		<< t;
	EXPECT_NE(t.find("     5     17    - "), std::string::npos) << t;
	auto j = snapshot_to_json(s);
	EXPECT_EQ(j["source"], "inet_diag");
	EXPECT_TRUE(j["listeners"][3]["syn_queue"].is_null());
	EXPECT_EQ(j["listeners"][3]["backlog"], 17);
	EXPECT_EQ(j["refused"].size(), 1u);
}

TEST(Render, ProcessesAreNullUnlessResolved)
{
	Snapshot s = sample_snapshot();
	s.processes_resolved = false;
	auto j = snapshot_to_json(s);
	EXPECT_TRUE(j["listeners"][0]["processes"].is_null());
	s.processes_resolved = true;
	s.listeners[0].processes.clear();
	j = snapshot_to_json(s);
	EXPECT_TRUE(j["listeners"][0]["processes"].is_array());
	EXPECT_TRUE(j["listeners"][0]["processes"].empty());
}

TEST(Render, EmptySnapshotSaysSo)
{
	Snapshot s;
	s.source = "iter/tcp";
	s.netns = 1;
	std::ostringstream os;
	render_snapshot_text(os, s, fixed_names());
	EXPECT_EQ(os.str(),
		  "listenq snapshot: source iter/tcp, netns 1, 0 listeners\n"
		  "Recv-Q Send-Q SynQ Drops Local Address:Port\n");
}

TEST(Render, CountsSayListenerForOne)
{
	EXPECT_EQ(count_of(0, "listener"), "0 listeners");
	EXPECT_EQ(count_of(1, "listener"), "1 listener");
	EXPECT_EQ(count_of(2, "listener"), "2 listeners");
	EXPECT_EQ(count_of(2, "pass"), "2 passes");
	EXPECT_EQ(count_of(1, "pass"), "1 pass");
}

TEST(Render, ProcessListIsShortened)
{
	EXPECT_EQ(format_processes({}), "");
	EXPECT_EQ(format_processes({{1, 3, "a"}}), "1/a");
	EXPECT_EQ(format_processes({{1, 3, "a"}, {2, 3, "a"}}), "1/a,2/a");
	EXPECT_EQ(format_processes({{1, 3, "a"}, {2, 3, "a"}, {3, 3, "a"}}), "1/a +2");
}

ProbeReport host_report()
{
	ProbeReport r;
	auto doc = nlohmann::ordered_json::parse(read_fixture_text("probe_host_6.18_v857.json"));
	r.features = *features_from_probe_json(doc);
	r.kernel.release = "6.18.44-fc-v857";
	r.kernel.btf_source = "/sys/kernel/btf/vmlinux";
	r.kernel.btf_note = "kernel";
	r.kernel.lockdown = "integrity";
	r.kernel.lockdown_from = "securityfs, mounted in a private mount namespace";
	r.kernel.somaxconn = 4096;
	r.kernel.netns = 4026531833u;
	r.inet_diag = {true, "tcp_diag answered, 1 listener"};
	r.plan = make_plan(r.features, AttachMode::automatic, {}, true);
	return r;
}

TEST(Render, ProbeTextFromHostCapture)
{
	std::ostringstream os;
	render_probe_text(os, host_report());
	expect_golden("probe_host_6.18.txt", os.str());
}

TEST(Render, ProbeJsonRoundTripsFeatures)
{
	ProbeReport r = host_report();
	auto doc = probe_to_json(r);
	auto back = features_from_probe_json(doc);
	ASSERT_TRUE(back);
	ProbeReport again = r;
	again.features = *back;
	again.plan = make_plan(*back, AttachMode::automatic, {}, true);
	EXPECT_EQ(probe_to_json(again), doc);
	EXPECT_EQ(doc["schema"], "listenq.probe/2");
	EXPECT_EQ(doc["plan"]["facts"][0]["fact"], "listen");
	EXPECT_EQ(doc["plan"]["facts"][0]["tier"], "tracepoint");
}

TEST(Render, ProbeJsonRejectsGarbage)
{
	auto f = features_from_probe_json(nlohmann::ordered_json::parse(R"({"capabilities": {}})"));
	ASSERT_FALSE(f);
	EXPECT_NE(f.error().message.find("probe JSON"), std::string::npos);
}

}  // namespace
