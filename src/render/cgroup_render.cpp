#include "render/cgroup_render.h"

namespace listenq {

std::string cgroup_cell(const CgroupInfo *c)
{
	if (!c)
		return "";
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
		{"unit", str(c->unit)}};
}

}  // namespace listenq
