#include "render/cgroup_render.h"

namespace listenq {

std::string cgroup_cell(const CgroupInfo *c)
{
	if (!c)
		return "";
	if (!c->pod.empty())
		return c->pod_namespace.empty() ? c->pod : c->pod_namespace + "/" + c->pod;
	if (!c->container.empty())
		return c->container;
	if (!c->container_id.empty())
		return c->container_id.substr(0, 12);
	if (!c->pod_uid.empty())
		return "pod:" + c->pod_uid.substr(0, 8);
	return c->unit.substr(0, 16);
}

nlohmann::ordered_json cgroup_json(const CgroupInfo *c)
{
	if (!c || c->path.empty())
		return nullptr;
	auto str = [](const std::string &s) {
		return s.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s);
	};
	return {{"path", c->path},
		{"hierarchy", c->hierarchy},
		{"runtime", str(c->runtime)},
		{"container_id", str(c->container_id)},
		{"pod_uid", str(c->pod_uid)},
		{"qos", str(c->qos)},
		{"unit", str(c->unit)},
		{"pod", str(c->pod)},
		{"namespace", str(c->pod_namespace)},
		{"container", str(c->container)}};
}

}  // namespace listenq
