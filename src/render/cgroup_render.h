// A listener owner's cgroup in text and JSON (snapshot -p, watch, hist).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "model/listener.h"

namespace listenq {

// For a narrow column (at most 16 characters): the container id's first
// 12 digits (as `docker ps` shows it); else "pod:" and the pod UID's first
// 8; else the systemd unit, cut to 16; else "".
std::string cgroup_cell(const CgroupInfo *c);

// {path, hierarchy, runtime, container_id, pod_uid, qos, unit}, each
// string or null when the path has none; null when c is null or could
// not be read (docs/json.md).
nlohmann::ordered_json cgroup_json(const CgroupInfo *c);

}  // namespace listenq
