// Container names from a runtime's state: podman's files are captured from
// a real `podman kube play` here (tests/fixtures/runtime/podman-kube-play);
// containerd's, CRI-O's and docker's are the layouts and keys their sources
// define (containerd pkg/cri/annotations, CRI-O's annotations, cri-dockerd's
// labels): no such runtime runs on these machines.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "golden.h"
#include "sources/cgroup.h"
#include "sources/container_names.h"

using namespace listenq;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string &rel)
{
	return listenq::testing::read_fixture_text("runtime/" + rel);
}

std::string podman_id()
{
	std::string id = fixture("podman-kube-play/id");
	while (!id.empty() && id.back() == '\n')
		id.pop_back();
	return id;
}

const char *kId = "8555cf1f18604b1c5f5b1e9dbd0c1a4a0d2b2e8f6d0c3a7b9e1f2a3b4c5d6e7f";

const char *kContainerdConfig = R"({"ociVersion":"1.1.0","process":{"args":["nginx"]},
 "annotations":{"io.kubernetes.cri.container-name":"front","io.kubernetes.cri.container-type":"container",
  "io.kubernetes.cri.image-name":"docker.io/library/nginx:1.25","io.kubernetes.cri.sandbox-id":"0d1c",
  "io.kubernetes.cri.sandbox-name":"web-7d9f8b6c5-x2x4z","io.kubernetes.cri.sandbox-namespace":"shop",
  "io.kubernetes.cri.sandbox-uid":"5f0c2a1e-7b7d-4d1a-9a51-1c2d3e4f5a6b"}})";

const char *kCrioConfig = R"({"ociVersion":"1.0.2-dev","annotations":{"io.kubernetes.container.name":"front",
 "io.kubernetes.pod.name":"web-7d9f8b6c5-x2x4z","io.kubernetes.pod.namespace":"shop",
 "io.kubernetes.pod.uid":"5f0c2a1e-7b7d-4d1a-9a51-1c2d3e4f5a6b","io.kubernetes.cri-o.ContainerType":"container"}})";

const char *kDockerConfig = R"({"ID":"8555","Name":"/k8s_front_web-7d9f8b6c5-x2x4z_shop_5f0c2a1e_0",
 "Config":{"Hostname":"web","Labels":{"io.kubernetes.container.name":"front",
  "io.kubernetes.pod.name":"web-7d9f8b6c5-x2x4z","io.kubernetes.pod.namespace":"shop"}}})";

const ContainerNames kShopFront{"web-7d9f8b6c5-x2x4z", "shop", "front"};

void write(const fs::path &p, const std::string &text)
{
	fs::create_directories(p.parent_path());
	std::ofstream(p) << text;
}

class RuntimeRoot : public ::testing::Test {
protected:
	void SetUp() override
	{
		root = fs::temp_directory_path() / ("lq-runtime-" + std::to_string(::getpid()));
		fs::remove_all(root);
	}
	void TearDown() override { fs::remove_all(root); }
	fs::path root;
};

}  // namespace

TEST(ContainerNames, ContainerdCriAnnotations)
{
	EXPECT_EQ(names_from_oci_config(kContainerdConfig), kShopFront);
}

TEST(ContainerNames, CrioAnnotations)
{
	EXPECT_EQ(names_from_oci_config(kCrioConfig), kShopFront);
}

TEST(ContainerNames, DockerLabelsOrItsName)
{
	EXPECT_EQ(names_from_docker_config(kDockerConfig), kShopFront);
	EXPECT_EQ(names_from_docker_config(R"({"Name":"/redis","Config":{"Labels":{}}})"),
		  (ContainerNames{"", "", "redis"}));
	EXPECT_EQ(names_from_docker_config(R"({"Name":"/redis","Config":{"Labels":null}})"),
		  (ContainerNames{"", "", "redis"}));
}

TEST(ContainerNames, PodmanKubePlayCaptured)
{
	// podman records no Kubernetes pod names: its config.json annotations
	// name none (captured), and the container's name is in containers.json.
	EXPECT_TRUE(names_from_oci_config(fixture("podman-kube-play/config.json")).empty());
	EXPECT_EQ(names_from_storage_containers(fixture("podman-kube-play/containers.json"), podman_id()),
		  (ContainerNames{"", "", "web-front"}));
	EXPECT_TRUE(names_from_storage_containers(fixture("podman-kube-play/containers.json"), kId).empty());
}

TEST(ContainerNames, MalformedStateNamesNothing)
{
	for (const char *bad : {"", "{", "[]", "null", R"({"annotations":"x"})", R"({"annotations":{"io.kubernetes.pod.name":7}})"})
		EXPECT_TRUE(names_from_oci_config(bad).empty()) << bad;
	EXPECT_TRUE(names_from_docker_config(R"({"Name":3,"Config":"x"})").empty());
	EXPECT_TRUE(names_from_storage_containers(R"({"id":"x"})", "x").empty());
	EXPECT_TRUE(names_from_storage_containers(R"([{"id":"x","names":[]}])", "x").empty());
}

TEST_F(RuntimeRoot, EachRuntimesLayoutIsFound)
{
	write(root / "ctrd/run/containerd/io.containerd.runtime.v2.task/k8s.io" / kId / "config.json", kContainerdConfig);
	EXPECT_EQ(read_container_names("containerd", kId, (root / "ctrd").string()), kShopFront);
	EXPECT_EQ(read_container_names("", kId, (root / "ctrd").string()), kShopFront);

	write(root / "crio/run/containers/storage/overlay-containers" / kId / "userdata/config.json", kCrioConfig);
	EXPECT_EQ(read_container_names("cri-o", kId, (root / "crio").string()), kShopFront);

	write(root / "docker/var/lib/docker/containers" / kId / "config.v2.json", kDockerConfig);
	EXPECT_EQ(read_container_names("docker", kId, (root / "docker").string()), kShopFront);

	const std::string pid = podman_id();
	const fs::path store = root / "podman/var/lib/containers/storage/overlay-containers";
	write(store / pid / "userdata/config.json", fixture("podman-kube-play/config.json"));
	write(store / "containers.json", fixture("podman-kube-play/containers.json"));
	EXPECT_EQ(read_container_names("podman", pid, (root / "podman").string()), (ContainerNames{"", "", "web-front"}));

	// The wrong runtime's place, or no state at all: nothing.
	EXPECT_TRUE(read_container_names("docker", kId, (root / "ctrd").string()).empty());
	EXPECT_TRUE(read_container_names("", kId, (root / "nothing").string()).empty());
}

TEST_F(RuntimeRoot, CgroupCacheNamesTheContainerOnce)
{
	// A process in the captured podman container: its cgroup line, and the
	// runtime's state under the root.
	const std::string pid = podman_id();
	write(root / "proc/4242/cgroup", fixture("podman-kube-play/cgroup"));
	const fs::path store = root / "rt/var/lib/containers/storage/overlay-containers";
	write(store / pid / "userdata/config.json", fixture("podman-kube-play/config.json"));
	write(store / "containers.json", fixture("podman-kube-play/containers.json"));
	CgroupCache cache((root / "proc").string(), (root / "rt").string());
	const auto &info = cache.of_pid(4242);
	EXPECT_EQ(info->runtime, "podman");
	EXPECT_EQ(info->container_id, pid);
	EXPECT_EQ(info->container, "web-front");
	EXPECT_EQ(info->pod, "");
	// The state is read when the cgroup is first seen, not per pid or pass.
	fs::remove_all(root / "rt");
	write(root / "proc/4243/cgroup", fixture("podman-kube-play/cgroup"));
	cache.end_pass();
	EXPECT_EQ(cache.of_pid(4243)->container, "web-front");
}
