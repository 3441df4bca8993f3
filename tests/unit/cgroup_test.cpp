// Container attribution (issue 17): /proc/PID/cgroup and /proc/mounts
// parsed, cgroup paths classified, and the owners' cgroups in snapshot -p,
// watch and export output.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "golden.h"
#include "render/cgroup_render.h"
#include "render/prom_render.h"
#include "render/snapshot_render.h"
#include "render/trace_render.h"
#include "sources/cgroup.h"

using namespace listenq;
using namespace listenq::testing;
namespace fs = std::filesystem;

namespace {

std::vector<CgroupLine> lines_of(const std::string &text)
{
	std::istringstream in(text);
	auto r = parse_proc_cgroup(in);
	EXPECT_TRUE(r) << r.error().message;
	return r ? *r : std::vector<CgroupLine>{};
}

// Captured on the CI host (6.18, hybrid: v1 controllers under
// /sys/fs/cgroup/*, cgroup2 at /sys/fs/cgroup/unified). From /proc/mounts
// one line, the sandbox's own tooling mount, was left out.
TEST(Cgroup, HybridHostCaptures)
{
	const auto lines = lines_of(read_fixture_text("proc_self_cgroup_hybrid_6.18.txt"));
	ASSERT_EQ(lines.size(), 10u);
	EXPECT_EQ(lines[0], (CgroupLine{9, "name=systemd", "/"}));
	EXPECT_EQ(lines[5], (CgroupLine{4, "memory", "/process_api/7e3b9a65f539482efb58579658d8cc61"}));
	EXPECT_TRUE(lines[9].is_v2());
	EXPECT_EQ(lines[9].path, "/");
	// No container, pod or unit anywhere (a 32-digit id is not a
	// container's): the v2 path, as it is.
	const CgroupInfo c = cgroup_of(lines);
	EXPECT_EQ(c.path, "/");
	EXPECT_EQ(c.hierarchy, "v2");
	EXPECT_EQ(c.container_id, "");
	EXPECT_EQ(c.unit, "");

	std::istringstream mounts(read_fixture_text("proc_mounts_hybrid_6.18.txt"));
	EXPECT_EQ(cgroup_v2_mount(mounts), "/sys/fs/cgroup/unified");
}

TEST(Cgroup, V2MountFromProcMounts)
{
	std::istringstream escaped("cgroup2 /run/my\\040cgroups cgroup2 rw 0 0\n");
	EXPECT_EQ(cgroup_v2_mount(escaped), "/run/my cgroups");
	std::istringstream unified("cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n");
	EXPECT_EQ(cgroup_v2_mount(unified), "/sys/fs/cgroup");
	std::istringstream v1only("cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n");
	EXPECT_EQ(cgroup_v2_mount(v1only), std::nullopt);
}

TEST(Cgroup, MalformedLinesAreErrorsNamingTheLine)
{
	for (const char *bad : {"0::/\nnot a cgroup line\n", "x:memory:/\n", "1:memory\n", "2:cpu:relative\n"}) {
		std::istringstream in(bad);
		auto r = parse_proc_cgroup(in);
		ASSERT_FALSE(r) << bad;
		EXPECT_NE(r.error().message.find("line"), std::string::npos) << r.error().message;
	}
	// ':' in a path is the path's (a runtime's "slice:prefix:name"
	// directory); a removed v2 cgroup is marked " (deleted)" by the kernel.
	const auto l = lines_of("0::/a:b:c\n0::/gone.scope (deleted)\n");
	EXPECT_EQ(l[0].path, "/a:b:c");
	EXPECT_EQ(l[1].path, "/gone.scope");
}

constexpr const char *kId = "7951fb549ab99e0722a949b6c121634e1f3a36b5bacbe5392991e3b12251e6b8";

struct Layout {
	std::string path;
	std::string runtime, container_id, pod_uid, qos, unit;
};

// Layouts as other projects find them (strings copied from their tests):
//  F: falcosecurity/libs test/libsinsp_e2e/container/container_cgroup.cpp
//     (and userspace/libsinsp cri.cpp CRI_CGROUP_LAYOUT);
//  D: Datadog's container tagging table, ContainerInfoTest.groovy (dd-trace,
//     as copied into open-telemetry/opentelemetry-java-instrumentation
//     dd-trace-ot), from Qard/container-info;
//  P: podman inspect's CgroupPath of a rootless container, with the
//     "/container" leaf podman adds when it runs its own init;
//  K: kubelet's systemd driver, a guaranteed pod (no QoS slice) and the
//     kubelet cgroup root variant ("kubelet.slice/kubelet-kubepods...").
const std::vector<Layout> kLayouts = {
	// F
	{"/kubepods/besteffort/podac04f3f2-1f2c-11e9-b015-1ebee232acfa/"
	 "605439acbd4fb18c145069289094b17f17e0cfa938f78012d4960bc797305f22",
	 "", "605439acbd4fb18c145069289094b17f17e0cfa938f78012d4960bc797305f22",
	 "ac04f3f2-1f2c-11e9-b015-1ebee232acfa", "besteffort", ""},
	{"/kubepods/besteffort/pod63b3ebfc-2890-11e9-8154-16bf8ef8d9dc/"
	 "crio-73bfe475650de66df8e2affdc98d440dcbe84f8df83b6f75a68a82eb7026136a",
	 "cri-o", "73bfe475650de66df8e2affdc98d440dcbe84f8df83b6f75a68a82eb7026136a",
	 "63b3ebfc-2890-11e9-8154-16bf8ef8d9dc", "besteffort", ""},
	{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod63b3ebfc_2890_11e9_8154_16bf8ef8d9dc.slice/"
	 "crio-17d8c9eacc629f9945f304d89e9708c0c619649a484a215b240628319548a09f.scope",
	 "cri-o", "17d8c9eacc629f9945f304d89e9708c0c619649a484a215b240628319548a09f",
	 "63b3ebfc-2890-11e9-8154-16bf8ef8d9dc", "besteffort", ""},
	{"/docker/7951fb549ab99e0722a949b6c121634e1f3a36b5bacbe5392991e3b12251e6b8", "docker", kId, "", "", ""},
	{"/docker.slice/docker-7951fb549ab99e0722a949b6c121634e1f3a36b5bacbe5392991e3b12251e6b8.scope", "docker", kId,
	 "", "", ""},
	{"/kubepods-burstable-podbd12dd3393227d950605a2444b13c27a.slice:cri-containerd:"
	 "d52db56a9c80d536a91354c0951c061187ca46249e64865a12703003d8f42366",
	 "containerd", "d52db56a9c80d536a91354c0951c061187ca46249e64865a12703003d8f42366",
	 "bd12dd3393227d950605a2444b13c27a", "burstable", ""},
	// D
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod90d81341_92de_11e7_8cf2_507b9d4141fa.slice/"
	 "crio-2227daf62df6694645fee5df53c1f91271546a9560e8600a525690ae252b7f63.scope",
	 "cri-o", "2227daf62df6694645fee5df53c1f91271546a9560e8600a525690ae252b7f63",
	 "90d81341-92de-11e7-8cf2-507b9d4141fa", "burstable", ""},
	{"/system.slice/docker-cde7c2bab394630a42d73dc610b9c57415dced996106665d427f6d0566594411.scope", "docker",
	 "cde7c2bab394630a42d73dc610b9c57415dced996106665d427f6d0566594411", "", "", ""},
	{"/ecs/haissam-ecs-classic/5a0d5ceddf6c44c1928d367a815d890f/"
	 "38fac3e99302b3622be089dd41e7ccf38aff368a86cc339972075136ee2710ce",
	 "", "38fac3e99302b3622be089dd41e7ccf38aff368a86cc339972075136ee2710ce", "", "", ""},
	// D expects no id here (its pattern anchors the id at the end); a
	// process in a sub-cgroup of a container is in that container, so
	// components match anywhere.
	{"/docker/051e2ee0bce99116029a13df4a9e943137f19f957f38ac02d6bad96f9b700f76/not_hex", "docker",
	 "051e2ee0bce99116029a13df4a9e943137f19f957f38ac02d6bad96f9b700f76", "", "", ""},
	// P
	{"/user.slice/user-1000.slice/user@1000.service/user.slice/"
	 "libpod-3f084b4c7b789c1a0f174da3fcd339e31125d3096b3ff46a0bef4fad71d09362.scope/container",
	 "podman", "3f084b4c7b789c1a0f174da3fcd339e31125d3096b3ff46a0bef4fad71d09362", "", "", "user@1000.service"},
	{"/machine.slice/libpod-conmon-7951fb549ab99e0722a949b6c121634e1f3a36b5bacbe5392991e3b12251e6b8.scope",
	 "podman", kId, "", "", ""},
	// K
	{"/kubepods.slice/kubepods-pod8dbc9e11_dc93_4eb2_bbef_ed21cf1db420.slice/"
	 "cri-containerd-7951fb549ab99e0722a949b6c121634e1f3a36b5bacbe5392991e3b12251e6b8.scope",
	 "containerd", kId, "8dbc9e11-dc93-4eb2-bbef-ed21cf1db420", "guaranteed", ""},
	{"/kubepods/pod8dbc9e11-dc93-4eb2-bbef-ed21cf1db420/7951fb549ab99e0722a949b6c121634e1f3a36b5bacbe5392991e3b12251e6b8",
	 "", kId, "8dbc9e11-dc93-4eb2-bbef-ed21cf1db420", "guaranteed", ""},
	{"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
	 "kubelet-kubepods-besteffort-pod26a1a59b_8013_459b_9a20_a611facb1888.slice/"
	 "cri-containerd-7951fb549ab99e0722a949b6c121634e1f3a36b5bacbe5392991e3b12251e6b8.scope",
	 "containerd", kId, "26a1a59b-8013-459b-9a20-a611facb1888", "besteffort", ""},
	// A pod-level cgroup (no container below it yet): pod, no id.
	{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod90d81341_92de_11e7_8cf2_507b9d4141fa.slice", "",
	 "", "90d81341-92de-11e7-8cf2-507b9d4141fa", "burstable", ""},
	// Host services: the innermost unit.
	{"/system.slice/nginx.service", "", "", "", "", "nginx.service"},
	{"/user.slice/user-1000.slice/session-3.scope", "", "", "", "", "session-3.scope"},
	{"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "", "", "", "", "foo.service"},
	{"/system.slice/docker.service", "", "", "", "", "docker.service"},
	{"/", "", "", "", "", ""},
	// Below a prefix of our own (the integration tests' cgroups).
	{"/listenq-test-42/system.slice/docker-7951fb549ab99e0722a949b6c121634e1f3a36b5bacbe5392991e3b12251e6b8.scope",
	 "docker", kId, "", "", ""},
	// Not ids: too short, not hex, a pod UID outside kubepods.
	{"/docker/7951fb549ab9", "", "", "", "", ""},
	{"/system.slice/docker-7951fb549ab9.scope", "", "", "", "", "docker-7951fb549ab9.scope"},
	{"/pod8dbc9e11-dc93-4eb2-bbef-ed21cf1db420", "", "", "", "", ""},
};

TEST(Cgroup, ClassifiesTheLayoutsOfEveryRuntime)
{
	for (const Layout &l : kLayouts) {
		const CgroupInfo c = classify_cgroup(l.path);
		EXPECT_EQ(c.path, l.path);
		EXPECT_EQ(c.runtime, l.runtime) << l.path;
		EXPECT_EQ(c.container_id, l.container_id) << l.path;
		EXPECT_EQ(c.pod_uid, l.pod_uid) << l.path;
		EXPECT_EQ(c.qos, l.qos) << l.path;
		EXPECT_EQ(c.unit, l.unit) << l.path;
	}
}

// v2 first where it names a container; on a hybrid docker host it is "/"
// and the v1 lines carry the id (name=systemd first).
TEST(Cgroup, PrefersV2ThenNameSystemdThenAnyV1)
{
	const std::string id = kId;
	CgroupInfo c = cgroup_of(lines_of("4:memory:/docker/" + id + "\n1:name=systemd:/docker/" + id + "\n0::/\n"));
	EXPECT_EQ(c.container_id, id);
	EXPECT_EQ(c.hierarchy, "name=systemd");

	c = cgroup_of(lines_of("4:memory:/docker/" + id + "\n1:name=systemd:/\n0::/\n"));
	EXPECT_EQ(c.container_id, id);
	EXPECT_EQ(c.hierarchy, "memory");

	const std::string other(64, 'a');
	c = cgroup_of(lines_of("4:memory:/docker/" + other + "\n0::/system.slice/docker-" + id + ".scope\n"));
	EXPECT_EQ(c.container_id, id);
	EXPECT_EQ(c.hierarchy, "v2");

	// No container anywhere: the first that names a unit.
	c = cgroup_of(lines_of("4:memory:/\n1:name=systemd:/system.slice/sshd.service\n0::/\n"));
	EXPECT_EQ(c.unit, "sshd.service");
	EXPECT_EQ(c.hierarchy, "name=systemd");

	// A pure v1 host has no "0::" line.
	c = cgroup_of(lines_of("2:cpu,cpuacct:/\n1:name=systemd:/\n"));
	EXPECT_EQ(c.path, "/");
	EXPECT_EQ(c.hierarchy, "name=systemd");
	EXPECT_EQ(cgroup_of({}), CgroupInfo{});
}

// A fake /proc: each pid read once per pass, one object per cgroup, and
// a pid that cannot be read gets an info with no path.
TEST(Cgroup, CacheReadsEachPidOncePerPassAndInterns)
{
	const fs::path root = fs::path(::testing::TempDir()) / ("fakeproc-cg" + std::to_string(::getpid()));
	fs::remove_all(root);
	auto proc = [&](int pid, const std::string &cgroup) {
		fs::create_directories(root / std::to_string(pid));
		std::ofstream(root / std::to_string(pid) / "cgroup") << cgroup;
	};
	const std::string scope = "0::/system.slice/docker-" + std::string(kId) + ".scope\n";
	proc(10, scope);
	proc(11, scope);
	proc(12, "0::/system.slice/sshd.service\n");

	CgroupCache cache(root.string());
	const CgroupInfo *a = cache.of_pid(10).get();
	EXPECT_EQ(cache.of_pid(11).get(), a);  // one object per cgroup
	EXPECT_EQ(a->container_id, kId);
	EXPECT_EQ(cache.of_pid(12)->unit, "sshd.service");
	EXPECT_EQ(cache.of_pid(99)->path, "");  // no such pid
	EXPECT_EQ(cache.size(), 2u);

	proc(10, "0::/system.slice/moved.service\n");
	EXPECT_EQ(cache.of_pid(10).get(), a) << "read once per pass";
	cache.end_pass();
	EXPECT_EQ(cache.of_pid(10)->unit, "moved.service") << "a new pass reads again";
	fs::remove_all(root / "12");
	cache.end_pass();
	EXPECT_EQ(cache.of_pid(12)->path, "") << "gone: nothing to read";

	cache.keep_only({a});
	EXPECT_EQ(cache.size(), 1u);

	std::vector<Listener> ls(2);
	ls[0].processes = {{10, 3, "a"}, {11, 4, "b"}};
	ls[1].processes = {{99, 3, "gone"}};
	proc(10, scope);
	attach_cgroups(ls, root.string());
	ASSERT_TRUE(ls[0].processes[0].cgroup);
	EXPECT_EQ(ls[0].processes[0].cgroup, ls[0].processes[1].cgroup);
	EXPECT_EQ(ls[0].processes[0].cgroup->container_id, kId);
	EXPECT_EQ(ls[1].processes[0].cgroup->path, "");
	fs::remove_all(root);
}

CgroupInfo info(const std::string &path) { return cgroup_of(lines_of("0::" + path + "\n")); }

TEST(Cgroup, CellAndJson)
{
	const CgroupInfo docker = info("/system.slice/docker-" + std::string(kId) + ".scope");
	const CgroupInfo pod = info("/kubepods.slice/kubepods-pod8dbc9e11_dc93_4eb2_bbef_ed21cf1db420.slice");
	const CgroupInfo unit = info("/system.slice/systemd-networkd-wait-online.service");
	EXPECT_EQ(cgroup_cell(&docker), "7951fb549ab9");
	EXPECT_EQ(cgroup_cell(&pod), "pod:8dbc9e11");
	EXPECT_EQ(cgroup_cell(&unit), "systemd-networkd");
	EXPECT_EQ(cgroup_cell(nullptr), "");

	const auto j = cgroup_json(&docker);
	EXPECT_EQ(j.dump(), "{\"path\":\"/system.slice/docker-" + std::string(kId) +
				    ".scope\",\"hierarchy\":\"v2\",\"runtime\":\"docker\",\"container_id\":\"" + kId +
				    "\",\"pod_uid\":null,\"qos\":null,\"unit\":null,\"pod\":null,\"namespace\":null,"
				    "\"container\":null}");
	EXPECT_EQ(cgroup_json(&pod)["qos"], "guaranteed");
	// Names from the runtime's state come first in the cell.
	CgroupInfo named = docker;
	named.container = "redis";
	EXPECT_EQ(cgroup_cell(&named), "redis");
	named.pod = "web-7d9f8b6c5-x2x4z";
	named.pod_namespace = "shop";
	EXPECT_EQ(cgroup_cell(&named), "shop/web-7d9f8b6c5-x2x4z");
	EXPECT_EQ(cgroup_json(&named)["namespace"], "shop");
	EXPECT_TRUE(cgroup_json(nullptr).is_null());
	const CgroupInfo unreadable;
	EXPECT_TRUE(cgroup_json(&unreadable).is_null());
}

Listener listener(const char *addr, std::uint16_t port, ProcessRef owner)
{
	Listener l;
	l.family = AF_INET;
	inet_pton(AF_INET, addr, l.addr.data());
	l.port = port;
	l.netns = 4026531840u;
	l.cookie = 4096u + port;
	l.inode = 10000u + port;
	l.backlog = 128;
	l.processes = {std::move(owner)};
	return l;
}

// snapshot -p: a Container column only when some row has one; the JSON
// carries the whole cgroup per process.
TEST(Cgroup, SnapshotColumnAndJson)
{
	auto docker = std::make_shared<const CgroupInfo>(info("/system.slice/docker-" + std::string(kId) + ".scope"));
	auto sshd = std::make_shared<const CgroupInfo>(info("/system.slice/ssh.service"));
	auto root = std::make_shared<const CgroupInfo>(info("/"));
	Snapshot s;
	s.source = "iter/tcp";
	s.netns = 4026531840u;
	s.processes_resolved = true;
	s.listeners = {listener("0.0.0.0", 22, {612, 3, "sshd", sshd}), listener("0.0.0.0", 80, {900, 5, "nginx", docker}),
		       listener("127.0.0.1", 9000, {950, 7, "agent", root})};
	SnapshotTextOptions o;
	o.numeric = true;
	o.show_processes = true;
	std::ostringstream os;
	render_snapshot_text(os, s, o);
	expect_golden("snapshot_np_cgroup.txt", os.str());
	std::istringstream in(os.str());
	for (std::string line; std::getline(in, line);)
		EXPECT_LE(line.size(), 80u) << line;

	const auto j = snapshot_to_json(s);
	EXPECT_EQ(j["listeners"][1]["processes"][0]["cgroup"]["container_id"], kId);
	EXPECT_EQ(j["listeners"][1]["processes"][0]["cgroup"]["runtime"], "docker");
	EXPECT_EQ(j["listeners"][0]["processes"][0]["cgroup"]["unit"], "ssh.service");
	EXPECT_EQ(j["listeners"][2]["processes"][0]["cgroup"]["path"], "/");

	// Nobody in a container or unit: no column, the output as before.
	for (Listener &l : s.listeners)
		l.processes[0].cgroup = root;
	std::ostringstream plain;
	render_snapshot_text(plain, s, o);
	EXPECT_EQ(plain.str().find("Container"), std::string::npos) << plain.str();
}

ListenerStat stat(std::uint64_t cookie, std::uint16_t port, const CgroupInfo *cg)
{
	ListenerStat s;
	s.id.family = AF_INET;
	inet_pton(AF_INET, "0.0.0.0", s.id.addr.data());
	s.id.port = port;
	s.id.cookie = cookie;
	s.key = cookie;
	s.id.netns = 1;
	s.owner_pid = 100 + static_cast<std::uint32_t>(cookie);
	s.owner_comm = "srv";
	s.backlog = 128;
	s.cgroup = cg;
	return s;
}

// watch: a CONTAINER column after PID/COMM when the rows span several
// containers or units, not when they are all in one (or none).
TEST(Cgroup, WatchColumnWhenRowsSpanSeveral)
{
	const CgroupInfo a = info("/system.slice/docker-" + std::string(kId) + ".scope");
	const CgroupInfo b = info("/kubepods/burstable/pod8dbc9e11-dc93-4eb2-bbef-ed21cf1db420/" + std::string(64, 'b'));
	WatchFrame f;
	f.interval_s = 1;
	const std::vector<ListenerStat> two = {stat(1, 80, &a), stat(2, 81, &b), stat(3, 82, nullptr)};
	f.rows = compute_interval({}, two, 1.0);
	std::ostringstream os;
	render_watch_text(os, f);
	EXPECT_NE(os.str().find("PID/COMM CONTAINER    RECVQ"), std::string::npos) << os.str();
	EXPECT_NE(os.str().find(" 7951fb549ab9 "), std::string::npos) << os.str();
	EXPECT_NE(os.str().find(" bbbbbbbbbbbb "), std::string::npos) << os.str();

	const std::vector<ListenerStat> one = {stat(1, 80, &a), stat(2, 81, &a)};
	f.rows = compute_interval({}, one, 1.0);
	std::ostringstream same;
	render_watch_text(same, f);
	EXPECT_EQ(same.str().find("CONTAINER"), std::string::npos) << same.str();

	const auto j = watch_frame_json(f);
	EXPECT_EQ(j["listeners"][0]["cgroup"]["container_id"], kId);
	f.rows = compute_interval({}, two, 1.0);
	const auto k = watch_frame_json(f);
	for (const auto &l : k["listeners"])
		if (l["port"] == 81) {
			EXPECT_EQ(l["cgroup"]["pod_uid"], "8dbc9e11-dc93-4eb2-bbef-ed21cf1db420");
			EXPECT_EQ(l["cgroup"]["qos"], "burstable");
			EXPECT_TRUE(l["cgroup"]["runtime"].is_null());
		} else if (l["port"] == 82) {
			EXPECT_TRUE(l["cgroup"].is_null());
		}
}

// export: container_id, pod_uid, unit only where the cgroup names them;
// port rows never (a port's members can sit in several containers).
TEST(Cgroup, ExportLabelsOnlyWhenPresent)
{
	const CgroupInfo pod = info("/kubepods.slice/kubepods-burstable.slice/"
				    "kubepods-burstable-pod8dbc9e11_dc93_4eb2_bbef_ed21cf1db420.slice/cri-containerd-" +
				    std::string(kId) + ".scope");
	const CgroupInfo unit = info("/system.slice/nginx.service");
	CgroupInfo named = pod;  // as the runtime's state names it
	named.pod = "web-7d9f8b6c5-x2x4z";
	named.pod_namespace = "shop";
	named.container = "front";
	ExportScrape s;
	s.metrics = MetricSet::defaults();
	s.listeners = {stat(1, 80, &pod), stat(2, 81, &unit), stat(3, 82, nullptr), stat(4, 83, &named)};
	const std::string text = render_prometheus(s);
	EXPECT_NE(text.find("listenq_accept_queue{netns=\"1\",family=\"ipv4\",addr=\"0.0.0.0\",port=\"80\",comm=\"srv\","
			    "cookie=\"1\",container_id=\"" +
			    std::string(kId) + "\",pod_uid=\"8dbc9e11-dc93-4eb2-bbef-ed21cf1db420\"} 0\n"),
		  std::string::npos)
		<< text;
	EXPECT_NE(text.find("port=\"81\",comm=\"srv\",cookie=\"2\",unit=\"nginx.service\"} 0\n"), std::string::npos)
		<< text;
	EXPECT_NE(text.find("port=\"82\",comm=\"srv\",cookie=\"3\"} 0\n"), std::string::npos) << text;
	EXPECT_NE(text.find("port=\"83\",comm=\"srv\",cookie=\"4\",container_id=\"" + std::string(kId) +
			    "\",pod_uid=\"8dbc9e11-dc93-4eb2-bbef-ed21cf1db420\",namespace=\"shop\",pod=\"web-7d9f8b6c5-x2x4z\","
			    "container=\"front\"} 0\n"),
		  std::string::npos)
		<< text;

	PortAggregator agg;
	s.group_by = GroupBy::port;
	s.ports = agg.aggregate(s.listeners, [](const ListenerStat &) { return false; }, false);
	s.listeners.clear();
	const std::string ports = render_prometheus(s);
	EXPECT_EQ(ports.find("container_id"), std::string::npos) << ports;
	EXPECT_EQ(ports.find("unit="), std::string::npos) << ports;
	EXPECT_EQ(ports.find("pod="), std::string::npos) << ports;
}

}  // namespace
