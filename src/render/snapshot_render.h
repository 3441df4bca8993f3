// `listenq snapshot` output: text table and JSON (docs/json.md).
#pragma once

#include <functional>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "model/listener.h"

namespace listenq {

struct SnapshotTextOptions {
	bool numeric = false;         // -n: ports as numbers, no service names
	bool show_processes = false;  // -p
	// Name lookups, passed in (sources/etc_services.h: system_service_name,
	// system_ifname), so tests do not depend on /etc/services.
	std::function<std::string(std::uint16_t)> service_name;  // "" if none
	std::function<std::string(std::uint32_t)> ifname;        // "" if none
};

void render_snapshot_text(std::ostream &os, const Snapshot &snap, const SnapshotTextOptions &opt);
// processes: null unless resolved (so [] means "no process holds it").
nlohmann::ordered_json listener_to_json(const Listener &l, bool processes_resolved, bool syn_queue_known = true);
nlohmann::ordered_json snapshot_to_json(const Snapshot &snap);

// "812/nginx", "812/nginx,813/nginx", "812/nginx +3" when more than two.
std::string format_processes(const std::vector<ProcessRef> &procs);

}  // namespace listenq
