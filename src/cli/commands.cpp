#include "cli/commands.h"

#include "bpf/libbpf_log.h"
#include "bpf/snapshot_reader.h"
#include "render/probe_render.h"
#include "render/snapshot_render.h"
#include "sources/inet_diag.h"
#include "sources/kernel_info.h"
#include "sources/proc_owners.h"
#include "util/privilege.h"

namespace listenq {

namespace {

// Error -> message, hint and exit code. EPERM/EACCES from the kernel mean
// missing privilege or a policy refusal: exit 3.
int fail(std::ostream &err, const std::string &command, const Error &e)
{
	err << "listenq: " << e.message << '\n';
	if (e.err == EPERM || e.err == EACCES) {
		err << "hint: " << privilege_hint(command) << '\n';
		return kExitUnsupported;
	}
	if (std::string log = libbpf_recent_log(); !log.empty())
		err << "libbpf said:\n" << log;
	return kExitFailure;
}

// Checks shared by commands that load BPF. Returns 0 when it may proceed.
int preflight(const Options &o, std::ostream &err)
{
	if (auto btf = resolve_btf(o.common.btf); !btf) {
		err << "listenq: " << btf.error().message << '\n'
		    << "hint: pass --btf PATH (a vmlinux with .BTF or a raw BTF file for this kernel)\n";
		return kExitUnsupported;
	}
	if (!has_bpf_privileges()) {
		err << "listenq: missing privilege: not root and no CAP_BPF+CAP_PERFMON\n"
		    << "hint: " << privilege_hint(o.command) << '\n';
		return kExitUnsupported;
	}
	return kExitOk;
}

ListenerFilter filter_from(const SnapshotOptions &s)
{
	ListenerFilter f;
	f.ipv4 = !s.ipv6_only;
	f.ipv6 = !s.ipv4_only;
	f.port = s.port;
	return f;
}

}  // namespace

int run_probe(const Options &o, std::ostream &out, std::ostream &err)
{
	if (!has_bpf_privileges()) {
		err << "listenq: missing privilege: probing loads BPF programs\n"
		    << "hint: " << privilege_hint("probe") << '\n';
		return kExitUnsupported;
	}
	ProbeReport r;
	r.kernel = read_kernel_info(o.common.btf);
	r.mode = o.common.attach;
	LiveFeatureSource features;
	r.features = features.features();
	r.decisions = decide_tiers(r.features, r.mode);
	if (auto d = read_inet_diag(ListenerFilter{})) {
		r.inet_diag.available = d->status == DiagStatus::ok;
		r.inet_diag.detail = r.inet_diag.available
					     ? "tcp_diag answered, " + std::to_string(d->listeners.size()) +
							       (d->listeners.size() == 1 ? " listener" : " listeners")
					     : d->detail;
	} else {
		r.inet_diag.detail = d.error().message;
	}
	if (o.probe.json)
		out << probe_to_json(r).dump(2) << '\n';
	else
		render_probe_text(out, r);
	return kExitOk;
}

int run_snapshot(const Options &o, std::ostream &out, std::ostream &err)
{
	if (int rc = preflight(o, err))
		return rc;
	auto snap = read_snapshot_iter(BpfOptions{o.common.btf}, filter_from(o.snapshot));
	if (!snap)
		return fail(err, "snapshot", snap.error());
	if (o.snapshot.processes) {
		attach_owners(snap->listeners);
		snap->processes_resolved = true;
	}
	if (o.snapshot.json) {
		out << snapshot_to_json(*snap).dump(2) << '\n';
	} else {
		SnapshotTextOptions t;
		t.numeric = o.snapshot.numeric;
		t.show_processes = o.snapshot.processes;
		t.service_name = system_service_name;
		t.ifname = system_ifname;
		render_snapshot_text(out, *snap, t);
	}
	return kExitOk;
}

int run_listenq(const std::vector<std::string> &args, std::ostream &out, std::ostream &err)
{
	ParseOutcome p = parse_cli(args, out, err);
	if (!p.options)
		return p.exit_code;
	const Options &o = *p.options;
	install_libbpf_logger(o.common.verbose);
	if (o.command == "probe")
		return run_probe(o, out, err);
	if (o.command == "snapshot")
		return run_snapshot(o, out, err);
	err << "listenq: unknown command " << o.command << '\n';
	return kExitUsage;
}

}  // namespace listenq
