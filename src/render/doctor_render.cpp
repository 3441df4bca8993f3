#include "render/doctor_render.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include "render/cgroup_render.h"
#include "render/table.h"

namespace listenq {

namespace {

std::string upper(std::string s)
{
	for (char &c : s)
		c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
	return s;
}

std::string listener_line(const ListenerObservation &l)
{
	std::string s = format_endpoint(l.id, std::to_string(l.id.port)) + " netns " + std::to_string(l.id.netns);
	s += l.pid ? " pid " + std::to_string(l.pid) + " (" + l.comm + ")" : " owner unknown";
	if (l.cgroup) {
		if (!l.cgroup->pod.empty())
			s += " pod " + (l.cgroup->pod_namespace.empty() ? "" : l.cgroup->pod_namespace + "/") + l.cgroup->pod;
		if (!l.cgroup->container.empty())
			s += " container " + l.cgroup->container;
		else if (!l.cgroup->container_id.empty())
			s += " container " + l.cgroup->container_id.substr(0, 12);
		if (!l.cgroup->pod_uid.empty() && l.cgroup->pod.empty())
			s += " pod " + l.cgroup->pod_uid;
		else if (l.cgroup->container_id.empty() && !l.cgroup->unit.empty())
			s += " unit " + l.cgroup->unit;
	}
	return s;
}

std::string plural(std::size_t n, const char *one, const char *many)
{
	return std::to_string(n) + " " + (n == 1 ? one : many);
}

constexpr std::size_t kListenersShown = 5;

// Who a listener's owner is, for the per-workload summary: a Kubernetes pod
// (namespace/name, from the runtime's state), else a container (its name,
// or its id's first 12 digits), else a pod by UID, else a systemd unit,
// else the host.
struct Workload {
	std::string kind;  // pod, container, unit, host
	std::string name;
	std::string ns;  // a pod's namespace
	auto operator<=>(const Workload &) const = default;
};

Workload workload_of(const ListenerObservation &l)
{
	if (!l.cgroup)
		return {"host", "", ""};
	const CgroupInfo &c = *l.cgroup;
	if (!c.pod.empty())
		return {"pod", c.pod, c.pod_namespace};
	if (!c.container.empty())
		return {"container", c.container, ""};
	if (!c.container_id.empty())
		return {"container", c.container_id.substr(0, 12), ""};
	if (!c.pod_uid.empty())
		return {"pod", "uid:" + c.pod_uid, ""};
	if (!c.unit.empty())
		return {"unit", c.unit, ""};
	return {"host", "", ""};
}

struct WorkloadRow {
	Workload w;
	std::size_t listeners = 0;
	std::size_t by[3] = {0, 0, 0};  // findings naming its listeners, by severity
	std::uint64_t overflows = 0;
};

// One row per workload with listeners: most critical findings first, then
// warnings, overflows, name.
std::vector<WorkloadRow> workload_rows(const DoctorInput &in, const std::vector<Finding> &findings)
{
	std::map<Workload, WorkloadRow> rows;
	for (const ListenerObservation &l : in.listeners) {
		WorkloadRow &r = rows[workload_of(l)];
		r.w = workload_of(l);
		r.listeners++;
		r.overflows += l.overflow_syn + l.overflow_ack;
	}
	for (const Finding &f : findings) {
		std::set<Workload> named;
		for (const ListenerObservation *l : f.listeners)
			named.insert(workload_of(*l));
		for (const Workload &w : named)
			rows[w].by[static_cast<int>(f.severity)]++;
	}
	std::vector<WorkloadRow> out;
	for (auto &[w, r] : rows)
		out.push_back(r);
	std::stable_sort(out.begin(), out.end(), [](const WorkloadRow &a, const WorkloadRow &b) {
		return std::tie(b.by[0], b.by[1], b.overflows) < std::tie(a.by[0], a.by[1], a.overflows);
	});
	return out;
}

nlohmann::ordered_json workloads_json(const DoctorInput &in, const std::vector<Finding> &findings)
{
	using J = nlohmann::ordered_json;
	J out = J::array();
	for (const WorkloadRow &r : workload_rows(in, findings))
		out.push_back(J{{"kind", r.w.kind},
				{"name", r.w.kind == "host" ? J(nullptr) : J(r.w.name)},
				{"namespace", r.w.ns.empty() ? J(nullptr) : J(r.w.ns)},
				{"listeners", r.listeners},
				{"critical", r.by[0]},
				{"warning", r.by[1]},
				{"info", r.by[2]},
				{"overflows", r.overflows}});
	return out;
}

std::string workload_name(const Workload &w)
{
	if (w.kind == "host")
		return "host";
	return w.kind + " " + (w.ns.empty() ? "" : w.ns + "/") + w.name;
}

}  // namespace

void render_doctor_text(std::ostream &os, const DoctorInput &in, const std::vector<Finding> &findings)
{
	std::size_t by[3] = {0, 0, 0};
	for (const Finding &f : findings)
		by[static_cast<int>(f.severity)]++;
	std::vector<std::uint32_t> netns;
	for (const ListenerObservation &l : in.listeners)
		netns.push_back(l.id.netns);
	std::sort(netns.begin(), netns.end());
	netns.erase(std::unique(netns.begin(), netns.end()), netns.end());
	char secs[32];
	std::snprintf(secs, sizeof(secs), "%.1f s", in.seconds);
	print_folded(os, "listenq doctor:",
		     std::string(secs) + ", " + plural(in.listeners.size(), "listener", "listeners") + " in " +
			     plural(netns.size(), "netns", "netns") + ", tier " + in.tier + ", syscall hooks " +
			     (in.syscalls ? "on" : "off"));
	if (!in.unmeasured.empty()) {
		std::string u;
		for (const std::string &s : in.unmeasured)
			u += (u.empty() ? "" : ", ") + s;
		print_folded(os, "not measured in this tier:", u);
	}
	if (by[0] + by[1])
		os << plural(by[0] + by[1], "finding needs", "findings need") << " action (" << by[0] << " critical, "
		   << by[1] << " warning)";
	else
		os << "Nothing needs action";
	if (by[2])
		os << "; " << by[2] << " for information";
	os << ".\n";
	// Per workload, once some listener's owner is in a container or pod.
	const std::vector<WorkloadRow> rows = workload_rows(in, findings);
	if (std::any_of(rows.begin(), rows.end(), [](const WorkloadRow &r) { return r.w.kind == "pod" || r.w.kind == "container"; })) {
		os << "\nBy workload:\n";
		TextTable t({{"  Workload"}, {"Listeners", TextTable::Align::right}, {"Critical", TextTable::Align::right},
			     {"Warning", TextTable::Align::right}, {"Overflows", TextTable::Align::right}});
		for (const WorkloadRow &r : rows)
			t.add_row({"  " + workload_name(r.w), std::to_string(r.listeners), std::to_string(r.by[0]),
				   std::to_string(r.by[1]), std::to_string(r.overflows)});
		t.print(os);
	}
	for (const Finding &f : findings) {
		os << '\n' << upper(severity_name(f.severity)) << "  " << f.title << '\n';
		for (std::size_t i = 0; i < f.listeners.size() && i < kListenersShown; i++)
			print_folded(os, i ? "          " : "  listener", listener_line(*f.listeners[i]));
		if (f.listeners.size() > kListenersShown)
			os << "           ... and " << f.listeners.size() - kListenersShown << " more (--json lists them)\n";
		if (f.listeners.empty() && f.netns)
			print_folded(os, "  netns   ", std::to_string(*f.netns));
		print_folded(os, "  evidence", f.evidence_text);
		print_folded(os, "  cause   ", f.cause);
		for (std::size_t i = 0; i < f.fix.size(); i++)
			print_folded(os, i ? "          " : "  fix     ", f.fix[i]);
	}
}

nlohmann::ordered_json doctor_json(const DoctorInput &in, const std::vector<Finding> &findings)
{
	using J = nlohmann::ordered_json;
	J out;
	out["schema"] = "listenq.doctor/1";
	out["seconds"] = in.seconds;
	out["tier"] = in.tier;
	out["syscalls"] = in.syscalls;
	out["listeners_observed"] = in.listeners.size();
	out["netns_observed"] = in.netns.size();
	out["unmeasured"] = in.unmeasured;
	out["checks"] = doctor_checks();
	out["needs_action"] = needs_action(findings);
	J counts = {{"critical", 0}, {"warning", 0}, {"info", 0}};
	for (const Finding &f : findings)
		counts[severity_name(f.severity)] = counts[severity_name(f.severity)].get<int>() + 1;
	out["counts"] = counts;
	J arr = J::array();
	for (const Finding &f : findings) {
		J j;
		j["id"] = f.id;
		j["severity"] = severity_name(f.severity);
		j["title"] = f.title;
		j["netns"] = f.netns ? J(*f.netns) : J(nullptr);
		J ls = J::array();
		for (const ListenerObservation *l : f.listeners)
			ls.push_back(J{{"family", l->id.family == AF_INET6 ? "ipv6" : "ipv4"},
				      {"local_address", format_address(l->id.family, l->id.addr)},
				      {"port", l->id.port},
				      {"netns", l->id.netns},
				      {"cookie", l->id.cookie},
				      {"pid", l->pid},
				      {"comm", l->comm},
				      {"backlog", l->backlog},
				      {"requested_backlog", l->requested_backlog ? J(*l->requested_backlog) : J(nullptr)},
				      {"accept_queue", l->accept_queue},
				      {"accept_queue_peak", l->accept_queue_peak},
				      {"overflow_syn", l->overflow_syn},
				      {"overflow_ack", l->overflow_ack},
				      {"accepted", l->accepted},
				      {"hol_wait_peak_us", l->hol_wait_peak_us},
				      {"cgroup", cgroup_json(l->cgroup ? &*l->cgroup : nullptr)}});
		j["listeners"] = ls;
		J ev = J::object();
		for (const Evidence &e : f.evidence)
			ev[e.key] = e.value;
		j["evidence"] = ev;
		j["evidence_text"] = f.evidence_text;
		j["cause"] = f.cause;
		j["fix"] = f.fix;
		arr.push_back(j);
	}
	out["findings"] = arr;
	out["workloads"] = workloads_json(in, findings);
	return out;
}

}  // namespace listenq
