// A real container: `podman kube play` runs a pod (FROM scratch, the static
// lq_scene listening) in this test's network namespace, and `snapshot -p`
// names its container from podman's own state. The expected id and name
// come from `podman inspect`, not from listenq. Everything the test made
// (pod, containers, images) is removed after it.
// podman 4.3 here needs runc (crun refuses hybrid cgroups) and ulimits
// under the hard limit: a private containers.conf (CONTAINERS_CONF) says so.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "privileged.h"

using nlohmann::json;
using namespace listenq::testing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr int kPort = 7391;

std::set<std::string> words(const std::string &text)
{
	std::istringstream in(text);
	std::set<std::string> out;
	for (std::string w; in >> w;)
		out.insert(w);
	return out;
}

// The pod, its image and whatever podman made for it, removed at the end.
class PodmanScene {
public:
	explicit PodmanScene(std::string podman) : podman_(std::move(podman))
	{
		dir_ = fs::temp_directory_path() / ("lq-podman-" + std::to_string(::getpid()));
		fs::create_directories(dir_);
		pod_ = "lq-test-" + std::to_string(::getpid());
		image_ = "localhost/listenq-test-scene:" + std::to_string(::getpid());
		std::ofstream(dir_ / "containers.conf") << "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", "
							   "\"nproc=1024:1024\"]\n[engine]\nruntime = \"runc\"\n";
		// The images there before: only the ones made after go. If podman
		// cannot list them, none is removed.
		RunResult before = podman_run({"images", "-q", "--no-trunc"});
		listed_ = before.exit_code == 0;
		images_before_ = words(before.out);
	}
	~PodmanScene()
	{
		podman_run({"pod", "rm", "-f", "-t", "0", pod_});
		if (RunResult after = podman_run({"images", "-q", "--no-trunc"}); listed_ && after.exit_code == 0)
			for (const std::string &id : words(after.out))
				if (!images_before_.count(id))
					podman_run({"rmi", "-f", id});
		std::error_code ec;
		fs::remove_all(dir_, ec);
	}
	RunResult podman_run(std::vector<std::string> args) const
	{
		args.insert(args.begin(), podman_);
		return run_program(args, {"CONTAINERS_CONF=" + (dir_ / "containers.conf").string()});
	}
	// Builds the image and plays the pod; "" or what failed.
	std::string start()
	{
		fs::copy_file(LQ_SCENE_STATIC, dir_ / "lq_scene");
		std::ofstream(dir_ / "Containerfile") << "FROM scratch\nCOPY lq_scene /lq_scene\nENTRYPOINT [\"/lq_scene\"]\n";
		std::ofstream(dir_ / "pod.yaml")
			<< "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " << pod_
			<< "\nspec:\n  hostNetwork: true\n  containers:\n  - name: front\n    image: " << image_
			<< "\n    args: [\"listen\", \"127.0.0.1\", \"" << kPort << "\", \"16\"]\n";
		if (auto b = podman_run({"build", "-q", "-t", image_, dir_.string()}); b.exit_code != 0)
			return "podman build: exit " + std::to_string(b.exit_code) + ": " + b.err;
		if (auto p = podman_run({"kube", "play", (dir_ / "pod.yaml").string()}); p.exit_code != 0)
			return "podman kube play: exit " + std::to_string(p.exit_code) + ": " + p.err;
		return "";
	}
	std::string container() const { return pod_ + "-front"; }  // podman kube play's name

private:
	std::string podman_;
	fs::path dir_;
	std::string pod_, image_;
	std::set<std::string> images_before_;
	bool listed_ = false;
};

}  // namespace

TEST(RealContainer, SnapshotNamesAPodmanKubePlayContainer)
{
	LQ_REQUIRE_ROOT_NETNS();
	const std::string podman = which("podman");
	if (podman.empty()) {
		if (in_ci())
			FAIL() << "CI=true: podman is installed by scripts/deps.sh";
		GTEST_SKIP() << "podman not installed (scripts/deps.sh installs it)";
	}
	PodmanScene scene(podman);
	const std::string failed = scene.start();
	ASSERT_EQ(failed, "");
	// podman's own account of the container.
	const RunResult inspect = scene.podman_run({"inspect", "-f", "{{.Id}} {{.Name}}", scene.container()});
	ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
	std::istringstream in(inspect.out);
	std::string id, name;
	in >> id >> name;
	ASSERT_EQ(id.size(), 64u) << inspect.out;

	json row;
	const auto deadline = std::chrono::steady_clock::now() + kStartLimit;
	while (row.is_null() && std::chrono::steady_clock::now() < deadline) {
		RunResult r = run_program({LISTENQ_BIN, "snapshot", "-p", "--port", std::to_string(kPort), "--json"});
		ASSERT_EQ(r.exit_code, 0) << r.err;
		json j = json::parse(r.out);
		if (!j["listeners"].empty() && !j["listeners"][0]["processes"].empty())
			row = j["listeners"][0];
		else
			std::this_thread::sleep_for(100ms);
	}
	ASSERT_FALSE(row.is_null()) << "the container's listener never showed on port " << kPort;
	const json &cg = row["processes"][0]["cgroup"];
	EXPECT_EQ(cg["runtime"], "podman") << cg.dump();
	EXPECT_EQ(cg["container_id"], id) << cg.dump();
	EXPECT_EQ(cg["container"], name) << cg.dump();
	// podman keeps no Kubernetes pod name or namespace in its files.
	EXPECT_TRUE(cg["pod"].is_null()) << cg.dump();
	EXPECT_TRUE(cg["namespace"].is_null()) << cg.dump();

	RunResult table = run_program({LISTENQ_BIN, "snapshot", "-p", "--port", std::to_string(kPort)});
	ASSERT_EQ(table.exit_code, 0) << table.err;
	EXPECT_NE(table.out.find(" " + name), std::string::npos) << table.out;
	std::cout << "[ measured ] " << table.out;
}
