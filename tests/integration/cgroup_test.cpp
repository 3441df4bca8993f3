// Container attribution (issue 17) against real cgroup v2 directories, one
// per runtime layout, each holding a real listener process (in this test's
// private netns): snapshot -p --json, watch --json and an export scrape
// must name its container, pod and unit.
//
// The cgroups are made in the v2 hierarchy only (found in /proc/mounts,
// never assumed), under one directory of ours, <v2>/listenq-test-<pid>;
// no existing cgroup is moved or changed. TestCgroups removes all of it,
// deepest first, after its processes exit, also when a test fails.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "privileged.h"
#include "sources/cgroup.h"
#include "util/files.h"

using nlohmann::json;
using namespace listenq;
using namespace listenq::testing;
using namespace std::chrono_literals;

namespace {

std::string own_netns()
{
	struct stat st {};
	return ::stat("/proc/self/ns/net", &st) == 0 ? std::to_string(st.st_ino) : "0";
}

struct ListenerChild {
	pid_t pid = -1;
	std::uint16_t port = 0;
};

// Test cgroups under <v2 mount>/listenq-test-<pid>, and the processes
// put in them. The destructor kills and reaps the processes, then removes
// every directory it made, deepest first.
class TestCgroups {
public:
	explicit TestCgroups(const std::string &v2_mount)
		: top_(v2_mount + "/listenq-test-" + std::to_string(::getpid()))
	{
	}
	TestCgroups(const TestCgroups &) = delete;
	TestCgroups &operator=(const TestCgroups &) = delete;
	~TestCgroups()
	{
		for (pid_t p : children_) {
			::kill(p, SIGKILL);
			::waitpid(p, nullptr, 0);
		}
		// A cgroup is busy for a moment after its last process is reaped.
		for (auto d = dirs_.rbegin(); d != dirs_.rend(); ++d) {
			int rc = ::rmdir(d->c_str());
			for (int i = 0; i < 200 && rc != 0 && errno == EBUSY; i++) {
				std::this_thread::sleep_for(10ms);
				rc = ::rmdir(d->c_str());
			}
			if (rc != 0)
				ADD_FAILURE() << "test cgroup left behind: rmdir " << *d << ": " << std::strerror(errno);
		}
	}

	// top/rel and its parents; the absolute path. A directory that is
	// there already is not ours: an error, never reused.
	Result<std::string> make(const std::string &rel)
	{
		if (!mkdir_once(top_))
			return Error::from_errno(errno, "mkdir " + top_);
		std::string path = top_;
		std::istringstream parts(rel);
		for (std::string part; std::getline(parts, part, '/');) {
			if (part.empty())
				continue;
			path += "/" + part;
			if (!mkdir_once(path))
				return Error::from_errno(errno, "mkdir " + path);
		}
		return path;
	}

	// A child that joins dir (its pid written to cgroup.procs), then
	// listens on 127.0.0.1:0 and waits to be killed.
	Result<ListenerChild> spawn_listener(const std::string &dir, const char *comm)
	{
		int go[2], ready[2];
		if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(ready, O_CLOEXEC) != 0)
			return Error::from_errno(errno, "pipe2");
		const pid_t pid = ::fork();
		if (pid < 0)
			return Error::from_errno(errno, "fork");
		if (pid == 0) {
			::prctl(PR_SET_PDEATHSIG, SIGKILL);
			::prctl(PR_SET_NAME, comm);
			char c;
			if (::read(go[0], &c, 1) != 1)
				::_exit(1);
			auto l = make_listener("127.0.0.1", 0, 16);
			const std::uint16_t port = l ? local_port(l->get()) : 0;
			(void)!::write(ready[1], &port, sizeof(port));
			for (;;)
				::pause();
		}
		children_.push_back(pid);
		::close(go[0]);
		::close(ready[1]);
		UniqueFd go_w(go[1]), ready_r(ready[0]);
		if (auto w = write_file(dir + "/cgroup.procs", std::to_string(pid)); !w)
			return w.error();
		if (::write(go_w.get(), "g", 1) != 1)
			return Error::from_errno(errno, "write go");
		pollfd p{ready_r.get(), POLLIN, 0};
		std::uint16_t port = 0;
		if (::poll(&p, 1, 5000) != 1 || ::read(ready_r.get(), &port, sizeof(port)) != sizeof(port) || !port)
			return Error{EIO, "the listener child did not listen"};
		return ListenerChild{pid, port};
	}

private:
	bool made(const std::string &p) const { return std::find(dirs_.begin(), dirs_.end(), p) != dirs_.end(); }
	bool mkdir_once(const std::string &p)
	{
		if (made(p))
			return true;
		if (::mkdir(p.c_str(), 0755) != 0)
			return false;
		dirs_.push_back(p);
		return true;
	}

	std::string top_;
	std::vector<std::string> dirs_;  // made, in order (parents first)
	std::vector<pid_t> children_;
};

constexpr const char *kId = "7951fb549ab99e0722a949b6c121634e1f3a36b5bacbe5392991e3b12251e6b8";
constexpr const char *kId2 = "3f084b4c7b789c1a0f174da3fcd339e31125d3096b3ff46a0bef4fad71d09362";
constexpr const char *kPod = "8dbc9e11-dc93-4eb2-bbef-ed21cf1db420";
constexpr const char *kPodSlice = "8dbc9e11_dc93_4eb2_bbef_ed21cf1db420";

struct Layout {
	const char *name;
	std::string dir;  // below our top directory
	const char *runtime, *container_id, *pod_uid, *qos, *unit;
};

const Layout kLayouts[] = {
	{"DockerSystemd", std::string("system.slice/docker-") + kId + ".scope", "docker", kId, nullptr, nullptr, nullptr},
	{"DockerCgroupfs", std::string("docker/") + kId, "docker", kId, nullptr, nullptr, nullptr},
	{"ContainerdCriSystemdBurstable",
	 std::string("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod") + kPodSlice +
		 ".slice/cri-containerd-" + kId + ".scope",
	 "containerd", kId, kPod, "burstable", nullptr},
	{"CriCgroupfsGuaranteed", std::string("kubepods/pod") + kPod + "/" + kId, nullptr, kId, kPod, "guaranteed",
	 nullptr},
	{"CrioSystemdBestEffort",
	 std::string("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod") + kPodSlice + ".slice/crio-" +
		 kId + ".scope",
	 "cri-o", kId, kPod, "besteffort", nullptr},
	{"PodmanRootless",
	 std::string("user.slice/user-1000.slice/user@1000.service/user.slice/libpod-") + kId2 + ".scope/container",
	 "podman", kId2, nullptr, nullptr, "user@1000.service"},
	{"SystemdService", "system.slice/lq-echo.service", nullptr, nullptr, nullptr, nullptr, "lq-echo.service"},
	{"SystemdSessionScope", "user.slice/user-1000.slice/session-3.scope", nullptr, nullptr, nullptr, nullptr,
	 "session-3.scope"},
};

json str_or_null(const char *s) { return s ? json(s) : json(nullptr); }

// The v2 mount, or a skip. No cgroup2 mount at all (a pure v1 host) is a
// skip even under CI=true: there is nowhere to make a v2 cgroup. Anything
// else that stops the test cgroups is a failure there.
class Cgroups : public ::testing::Test {
protected:
	void SetUp() override
	{
		LQ_REQUIRE_ROOT_NETNS();
		std::ifstream mounts("/proc/mounts");
		auto m = cgroup_v2_mount(mounts);
		if (!m)
			GTEST_SKIP() << "no cgroup2 mount in /proc/mounts (a pure cgroup v1 host): no v2 cgroup to make";
		v2_ = *m;
		cgroups_ = std::make_unique<TestCgroups>(v2_);
	}
	void TearDown() override { cgroups_.reset(); }

	// A listener child in layout dir, or nullopt after a skip or failure.
	std::optional<ListenerChild> child_in(const std::string &dir, const char *comm = "lq-cg-listener")
	{
		auto path = cgroups_->make(dir);
		if (!path) {
			const std::string why = "cannot make test cgroups under " + v2_ + ": " + path.error().message;
			if (in_ci())
				ADD_FAILURE() << "CI=true: " << why;
			else
				skip_ = why;
			return std::nullopt;
		}
		auto c = cgroups_->spawn_listener(*path, comm);
		EXPECT_TRUE(c) << c.error().message;
		if (!c)
			return std::nullopt;
		// What listenq will read: the child's own /proc entry names it.
		auto own = read_file("/proc/" + std::to_string(c->pid) + "/cgroup");
		EXPECT_TRUE(own && own->find("0::/") != std::string::npos && own->find(dir) != std::string::npos)
			<< (own ? *own : own.error().message);
		return *c;
	}

	std::string v2_, skip_;
	std::unique_ptr<TestCgroups> cgroups_;
};

#define LQ_CHILD_IN(var, ...)                           \
	auto var = child_in(__VA_ARGS__);               \
	if (!var && !skip_.empty())                     \
		GTEST_SKIP() << skip_;                  \
	ASSERT_TRUE(var)

class CgroupLayouts : public Cgroups, public ::testing::WithParamInterface<Layout> {};

TEST_P(CgroupLayouts, SnapshotNamesTheListenersContainerPodAndUnit)
{
	const Layout &l = GetParam();
	LQ_CHILD_IN(child, l.dir);
	RunResult r = run_program({LISTENQ_BIN, "snapshot", "-p", "--json", "--port", std::to_string(child->port)});
	ASSERT_EQ(r.exit_code, 0) << r.err;
	const json s = json::parse(r.out);
	ASSERT_EQ(s["listeners"].size(), 1u) << r.out;
	const json &procs = s["listeners"][0]["processes"];
	ASSERT_EQ(procs.size(), 1u) << r.out;
	EXPECT_EQ(procs[0]["pid"], child->pid);
	EXPECT_EQ(procs[0]["comm"], "lq-cg-listener");
	const json &cg = procs[0]["cgroup"];
	ASSERT_TRUE(cg.is_object()) << r.out;
	EXPECT_NE(cg["path"].get<std::string>().find(l.dir), std::string::npos) << cg.dump();
	EXPECT_EQ(cg["hierarchy"], "v2");
	EXPECT_EQ(cg["runtime"], str_or_null(l.runtime)) << cg.dump();
	EXPECT_EQ(cg["container_id"], str_or_null(l.container_id)) << cg.dump();
	EXPECT_EQ(cg["pod_uid"], str_or_null(l.pod_uid)) << cg.dump();
	EXPECT_EQ(cg["qos"], str_or_null(l.qos)) << cg.dump();
	EXPECT_EQ(cg["unit"], str_or_null(l.unit)) << cg.dump();

	// The text row: the short id (or unit) in a Container column.
	RunResult t = run_program({LISTENQ_BIN, "snapshot", "-p", "-n", "--port", std::to_string(child->port)});
	ASSERT_EQ(t.exit_code, 0) << t.err;
	const std::string cell = l.container_id ? std::string(l.container_id).substr(0, 12) : l.unit;
	EXPECT_NE(t.out.find("Container"), std::string::npos) << t.out;
	EXPECT_NE(t.out.find(std::to_string(child->pid) + "/lq-cg-listener " + cell + "\n"), std::string::npos)
		<< t.out;
}

INSTANTIATE_TEST_SUITE_P(Layouts, CgroupLayouts, ::testing::ValuesIn(kLayouts),
			 [](const ::testing::TestParamInfo<Layout> &i) { return std::string(i.param.name); });

// watch: a listener older than watch (seeded: its owner found in /proc)
// and one that listens while it runs (its owner from the listen hook).
TEST_F(Cgroups, WatchJsonNamesTheContainersOfSeededAndNewListeners)
{
	LQ_CHILD_IN(old, std::string("system.slice/docker-") + kId + ".scope");
	Spawned watch({LISTENQ_BIN, "watch", "--netns", own_netns(), "0.3", "--json"});
	auto first = watch.read_line(kStartLimit);
	ASSERT_TRUE(first) << "watch did not start";
	LQ_CHILD_IN(young, std::string("machine.slice/libpod-") + kId2 + ".scope");

	std::map<std::uint16_t, json> seen;
	for (int i = 0; i < 30 && seen.size() < 2; i++) {
		auto line = watch.read_line(10s);
		ASSERT_TRUE(line) << "watch stopped";
		const json frame = json::parse(*line);
		for (const json &x : frame["listeners"])
			if ((x["port"] == old->port || x["port"] == young->port) && x["cgroup"].is_object())
				seen[x["port"].get<std::uint16_t>()] = x;
	}
	watch.signal(SIGINT);
	std::vector<std::string> rest;
	std::string err;
	EXPECT_EQ(watch.wait(15s, rest, err), 0) << err;
	ASSERT_EQ(seen.size(), 2u);
	const json &a = seen[old->port], &b = seen[young->port];
	EXPECT_TRUE(a["seeded"].get<bool>());
	EXPECT_EQ(a["pid"], old->pid);
	EXPECT_EQ(a["cgroup"]["container_id"], kId);
	EXPECT_EQ(a["cgroup"]["runtime"], "docker");
	EXPECT_EQ(b["pid"], young->pid);
	EXPECT_EQ(b["cgroup"]["container_id"], kId2);
	EXPECT_EQ(b["cgroup"]["runtime"], "podman");

	// Two containers: the text table has a CONTAINER column.
	RunResult t = run_program({LISTENQ_BIN, "watch", "--netns", own_netns(), "0.2", "1"});
	ASSERT_EQ(t.exit_code, 0) << t.err;
	EXPECT_NE(t.out.find("PID/COMM"), std::string::npos) << t.out;
	EXPECT_NE(t.out.find("CONTAINER"), std::string::npos) << t.out;
	EXPECT_NE(t.out.find(std::string(kId).substr(0, 12)), std::string::npos) << t.out;
	EXPECT_NE(t.out.find(std::string(kId2).substr(0, 12)), std::string::npos) << t.out;
}

// export: container_id and pod_uid labels on the listener's series (no
// unit: a pod's container has none); none on a port row.
TEST_F(Cgroups, ExportLabelsTheListenersSeries)
{
	LQ_CHILD_IN(child, std::string("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod") + kPodSlice +
				   ".slice/cri-containerd-" + kId + ".scope");
	const std::string port = std::to_string(child->port);
	RunResult r = run_program({LISTENQ_BIN, "export", "--once", "--netns", own_netns(), "--group-by", "listener",
				   "--port", port});
	ASSERT_EQ(r.exit_code, 0) << r.err;
	std::string series;
	std::istringstream in(r.out);
	for (std::string line; std::getline(in, line);)
		if (line.rfind("listenq_listen_backlog{", 0) == 0)
			series = line;
	EXPECT_NE(series.find("port=\"" + port + "\""), std::string::npos) << r.out;
	EXPECT_NE(series.find("container_id=\"" + std::string(kId) + "\""), std::string::npos) << series;
	EXPECT_NE(series.find("pod_uid=\"" + std::string(kPod) + "\""), std::string::npos) << series;
	EXPECT_EQ(series.find("unit="), std::string::npos) << series;
	EXPECT_EQ(series.substr(series.rfind(' ') + 1), "16");
	if (const std::string promtool = which("promtool"); !promtool.empty()) {
		const std::string file = "/tmp/listenq-cgroup-" + std::to_string(::getpid()) + ".prom";
		std::ofstream(file) << r.out;
		RunResult check = run_program({"/bin/sh", "-c", promtool + " check metrics < " + file});
		EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
		std::remove(file.c_str());
	}

	RunResult p = run_program(
		{LISTENQ_BIN, "export", "--once", "--netns", own_netns(), "--group-by", "port", "--port", port});
	ASSERT_EQ(p.exit_code, 0) << p.err;
	EXPECT_NE(p.out.find("listenq_listen_backlog{port=\"" + port + "\"} 16\n"), std::string::npos) << p.out;
	EXPECT_EQ(p.out.find("container_id"), std::string::npos) << p.out;
}

}  // namespace
