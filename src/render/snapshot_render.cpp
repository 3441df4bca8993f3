#include "render/snapshot_render.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "render/cgroup_render.h"
#include "render/table.h"

namespace listenq {

std::string format_processes(const std::vector<ProcessRef> &procs)
{
	std::string out;
	const std::size_t shown = procs.size() > 2 ? 1 : procs.size();
	for (std::size_t i = 0; i < shown; i++) {
		if (i)
			out += ',';
		out += std::to_string(procs[i].pid) + "/" + procs[i].comm;
	}
	if (procs.size() > shown)
		out += " +" + std::to_string(procs.size() - shown);
	return out;
}

void render_snapshot_text(std::ostream &os, const Snapshot &snap, const SnapshotTextOptions &opt)
{
	os << "listenq snapshot: source " << snap.source << ", netns " << snap.netns << ", "
	   << count_of(snap.listeners.size(), "listener") << '\n';
	for (const std::string &n : snap.notes)
		print_folded(os, "refused:", n);
	using A = TextTable::Align;
	std::vector<TextTable::Column> cols = {
		{"Recv-Q", A::right}, {"Send-Q", A::right}, {"SynQ", A::right},
		{"Drops", A::right},  {"Local Address:Port", A::left},
	};
	// Where the owner runs (its first process's cgroup): only when some
	// row has a container, pod or unit to show.
	auto where = [](const Listener &l) { return l.processes.empty() ? "" : cgroup_cell(l.processes[0].cgroup.get()); };
	const bool show_cgroup = opt.show_processes && std::any_of(snap.listeners.begin(), snap.listeners.end(),
								    [&](const Listener &l) { return !where(l).empty(); });
	if (opt.show_processes)
		cols.push_back({"Process", A::left});
	if (show_cgroup)
		cols.push_back({"Container", A::left});
	TextTable t(std::move(cols));
	for (const Listener &l : snap.listeners) {
		std::string port = std::to_string(l.port);
		if (!opt.numeric && opt.service_name)
			if (std::string s = opt.service_name(l.port); !s.empty())
				port = s;
		std::string ifn = l.bound_dev_if && opt.ifname ? opt.ifname(l.bound_dev_if) : "";
		std::vector<std::string> row = {std::to_string(l.accept_queue), std::to_string(l.backlog),
						snap.syn_queue_known ? std::to_string(l.syn_queue) : "-", std::to_string(l.drops),
						format_endpoint(l, port, ifn)};
		if (opt.show_processes)
			row.push_back(format_processes(l.processes));
		if (show_cgroup)
			row.push_back(where(l));
		t.add_row(std::move(row));
	}
	t.print(os);
}

nlohmann::ordered_json listener_to_json(const Listener &l, bool processes_resolved, bool syn_queue_known)
{
	nlohmann::ordered_json procs = nullptr;
	if (processes_resolved) {
		procs = nlohmann::ordered_json::array();
		for (const auto &p : l.processes)
			procs.push_back({{"pid", p.pid}, {"fd", p.fd}, {"comm", p.comm}, {"cgroup", cgroup_json(p.cgroup.get())}});
	}
	return {
		{"family", l.family == AF_INET6 ? "ipv6" : "ipv4"},
		{"local_address", format_address(l.family, l.addr)},
		{"port", l.port},
		{"netns", l.netns},
		{"cookie", l.cookie},
		{"inode", l.inode},
		{"uid", l.uid},
		{"accept_queue", l.accept_queue},
		{"backlog", l.backlog},
		{"syn_queue", syn_queue_known ? nlohmann::ordered_json(l.syn_queue) : nullptr},
		{"syn_young", syn_queue_known ? nlohmann::ordered_json(l.syn_young) : nullptr},
		{"drops", l.drops},
		{"bound_dev_if", l.bound_dev_if},
		{"reuseport", l.reuseport},
		{"ipv6only", l.ipv6only},
		{"processes", procs},
	};
}

nlohmann::ordered_json snapshot_to_json(const Snapshot &snap)
{
	nlohmann::ordered_json ls = nlohmann::ordered_json::array();
	for (const auto &l : snap.listeners)
		ls.push_back(listener_to_json(l, snap.processes_resolved, snap.syn_queue_known));
	return {{"schema", "listenq.snapshot/1"}, {"source", snap.source}, {"netns", snap.netns},
		{"refused", snap.notes}, {"listeners", ls}};
}

}  // namespace listenq
