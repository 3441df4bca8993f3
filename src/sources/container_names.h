// The names behind a container id, from its runtime's own state on this
// node (no API server): Kubernetes pod, pod namespace and container name.
//   containerd (CRI): the task's OCI config.json, annotations
//     io.kubernetes.cri.sandbox-name, ...-namespace, io.kubernetes.cri.container-name
//   CRI-O: userdata/config.json, annotations io.kubernetes.pod.name,
//     io.kubernetes.pod.namespace, io.kubernetes.container.name
//   docker: config.v2.json, Name and the same io.kubernetes.* labels
//     (cri-dockerd)
//   podman: containers/storage's containers.json names (its pods are not
//     Kubernetes pods: no pod or namespace)
// The parsers are pure (a fixture is a string); read_container_names() looks
// under a root, "/proc/1/root" by default: the host's root seen from a
// container with hostPID, and "/" on the host itself.
#pragma once

#include <string>
#include <string_view>

namespace listenq {

struct ContainerNames {
	std::string pod;            // Kubernetes pod name
	std::string pod_namespace;  // its namespace
	std::string container;      // container name (in the pod, or the runtime's)
	bool empty() const { return pod.empty() && pod_namespace.empty() && container.empty(); }
	bool operator==(const ContainerNames &) const = default;
};

// An OCI config.json (containerd's task, CRI-O's userdata): its annotations.
ContainerNames names_from_oci_config(std::string_view json);
// docker's config.v2.json: Name ("/web" -> "web") and its Kubernetes labels.
ContainerNames names_from_docker_config(std::string_view json);
// containers/storage's containers.json: the first name of the container id.
ContainerNames names_from_storage_containers(std::string_view json, std::string_view id);

// Looks for the id in the state of runtime ("containerd", "cri-o",
// "podman", "docker"; "" tries each) under root. Empty names when no
// state is found or it names nothing.
ContainerNames read_container_names(std::string_view runtime, const std::string &id,
				    const std::string &root = "/proc/1/root");

}  // namespace listenq
