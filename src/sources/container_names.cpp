#include "sources/container_names.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "util/files.h"

namespace listenq {

namespace {

using nlohmann::json;

json parse_or_null(std::string_view text)
{
	json j = json::parse(text, nullptr, false);
	return j.is_discarded() || !j.is_object() ? json() : j;
}

std::string str_at(const json &obj, const char *key)
{
	if (!obj.is_object())
		return "";
	auto it = obj.find(key);
	return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// The first of keys that the map (annotations or labels) has.
std::string first_of(const json &map, std::initializer_list<const char *> keys)
{
	for (const char *k : keys)
		if (auto v = str_at(map, k); !v.empty())
			return v;
	return "";
}

// containerd's CRI plugin and CRI-O (and docker's labels, from cri-dockerd)
// name the same three things with different keys.
ContainerNames names_from_kubernetes_keys(const json &map)
{
	ContainerNames n;
	n.pod = first_of(map, {"io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"});
	n.pod_namespace = first_of(map, {"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"});
	n.container = first_of(map, {"io.kubernetes.cri.container-name", "io.kubernetes.container.name"});
	return n;
}

std::string read_or_empty(const std::string &path)
{
	auto text = read_file(path);
	return text ? *text : std::string();
}

}  // namespace

ContainerNames names_from_oci_config(std::string_view text)
{
	const json j = parse_or_null(text);
	return j.is_null() ? ContainerNames{} : names_from_kubernetes_keys(j.value("annotations", json::object()));
}

ContainerNames names_from_docker_config(std::string_view text)
{
	const json j = parse_or_null(text);
	if (j.is_null())
		return {};
	const json config = j.value("Config", json::object());
	ContainerNames n = names_from_kubernetes_keys(config.is_object() ? config.value("Labels", json::object()) : json());
	if (n.container.empty()) {
		std::string name = str_at(j, "Name");
		n.container = name.starts_with('/') ? name.substr(1) : name;
	}
	return n;
}

ContainerNames names_from_storage_containers(std::string_view text, std::string_view id)
{
	const json j = json::parse(text, nullptr, false);
	if (j.is_discarded() || !j.is_array())
		return {};
	for (const json &c : j)
		if (c.is_object() && str_at(c, "id") == id) {
			auto names = c.find("names");
			if (names != c.end() && names->is_array() && !names->empty() && names->front().is_string())
				return {"", "", names->front().get<std::string>()};
			return {};
		}
	return {};
}

ContainerNames read_container_names(std::string_view runtime, const std::string &id, const std::string &root)
{
	const bool any = runtime.empty();
	if (any || runtime == "containerd") {
		// One directory per containerd namespace: k8s.io (CRI), moby, default.
		// (increment with an error code: a directory that goes away while
		// it is read ends the loop instead of throwing)
		std::error_code ec;
		for (std::filesystem::directory_iterator it(root + "/run/containerd/io.containerd.runtime.v2.task", ec), end;
		     !ec && it != end; it.increment(ec)) {
			const std::string text = read_or_empty(it->path().string() + "/" + id + "/config.json");
			if (text.empty())
				continue;
			ContainerNames n = names_from_oci_config(text);
			// containerd also runs docker's containers (namespace moby),
			// whose names are in docker's own state: look there too.
			if (!n.empty() || !any)
				return n;
		}
	}
	if (any || runtime == "cri-o" || runtime == "podman") {
		// CRI-O keeps config.json under both; podman only under /var/lib.
		for (const char *dir : {"/run/containers/storage", "/var/lib/containers/storage"}) {
			const std::string text = read_or_empty(root + dir + "/overlay-containers/" + id + "/userdata/config.json");
			if (text.empty())
				continue;
			ContainerNames n = names_from_oci_config(text);
			if (n.container.empty())
				n.container = names_from_storage_containers(
						      read_or_empty(root + dir + "/overlay-containers/containers.json"), id)
						      .container;
			if (!n.empty() || !any)
				return n;
		}
	}
	if (any || runtime == "docker") {
		const std::string text = read_or_empty(root + "/var/lib/docker/containers/" + id + "/config.v2.json");
		if (!text.empty())
			return names_from_docker_config(text);
	}
	return {};
}

}  // namespace listenq
