#include "cli/commands.h"

#include "bpf/libbpf_log.h"
#include "bpf/snapshot_reader.h"
#include "bpf/trace_program.h"
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "render/probe_render.h"
#include "render/ss_render.h"
#include "render/table.h"
#include "render/verify_render.h"
#include "cli/all_sources.h"
#include "sources/cgroup.h"
#include "sources/etc_services.h"
#include "sources/proc_net.h"
#include "util/terminal.h"
#include "render/snapshot_render.h"
#include "sources/inet_diag.h"
#include "sources/kernel_info.h"
#include "sources/proc_owners.h"
#include "util/privilege.h"
#include "util/step_timer.h"

namespace listenq {

// Error -> message, hint and exit code. EPERM/EACCES from the kernel mean
// missing privilege or a policy refusal: exit 3; EOPNOTSUPP too. The hint
// is true for this process: one that holds the capabilities is told it is
// the kernel's policy, not "needs root".
int fail(std::ostream &err, const std::string &command, const Error &e)
{
	err << "listenq: " << e.message << '\n';
	if (e.err == EPERM || e.err == EACCES) {
		if (has_bpf_privileges())
			err << "hint: this process has the capabilities BPF needs, so the kernel's policy refused it "
			       "(lockdown, an LSM or the build); `listenq probe` shows what this kernel allows\n";
		else
			err << "hint: " << privilege_hint(command) << '\n';
		return kExitUnsupported;
	}
	if (e.err == EOPNOTSUPP)
		return kExitUnsupported;
	if (std::string log = libbpf_recent_log(); !log.empty())
		err << "libbpf said:\n" << log;
	return kExitFailure;
}

BpfOptions bpf_options(const Options &o) { return BpfOptions{o.common.btf, o.common.refuse}; }

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

namespace {

// ss lists IPv4 (one inet_diag dump) before IPv6 (another); iter/tcp
// walks the same listening hash but interleaves the families.
std::vector<Listener> in_ss_order(std::vector<Listener> v)
{
	std::stable_partition(v.begin(), v.end(), [](const Listener &l) { return l.family == AF_INET; });
	return v;
}

std::string ss_text(const std::vector<Listener> &listeners, bool numeric, bool processes, int screen_width,
		    bool header = true)
{
	SsFormat f;
	f.header = header;
	f.numeric = numeric;
	f.show_processes = processes;
	f.ephemeral = read_ephemeral_range();
	f.service_name = system_service_name;
	f.ifname = system_ifname;
	std::vector<SsRow> rows;
	for (const Listener &l : listeners)
		rows.push_back(ss_row_from_listener(l, f));
	return render_ss(rows, f, screen_width);
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
	r.features = probe_kernel_features(o.common.probe_scope(/*function_attach=*/true));
	r.plan = make_plan(r.features, o.common.attach, o.common.refuse, o.common.syscalls);
	// The kernel's own verdict on the whole object, as watch would load it
	// (without attaching): refusals the kind probes missed show here too.
	if (!r.plan.fatal) {
		TraceProgramOptions t;
		t.btf_path = o.common.btf;
		if (auto loaded = TraceProgram::try_load(t, r.features, r.plan))
			r.plan = std::move(*loaded);
		else
			r.load_error = loaded.error().message;
	}
	if (auto d = read_inet_diag(ListenerFilter{})) {
		r.inet_diag.available = d->status == DiagStatus::ok;
		r.inet_diag.detail = r.inet_diag.available
					     ? "tcp_diag answered, " + count_of(d->listeners.size(), "listener")
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
	timing::mark("preflight");
	auto snap = read_snapshot_iter(bpf_options(o), o.filter.to_filter());
	if (!snap) {
		// Every BPF way refused: inet_diag still has the true backlog.
		auto d = read_inet_diag(o.filter.to_filter());
		if (!d || d->status != DiagStatus::ok)
			return fail(err, "snapshot",
				    snap.error().context("no BPF snapshot program loads, and inet_diag cannot stand in (" +
							 (d ? d->detail : d.error().message) + ")"));
		Snapshot s;
		s.source = "inet_diag";
		s.netns = current_netns_inode();
		s.listeners = std::move(d->listeners);
		s.syn_queue_known = false;
		s.notes = {snap.error().message + ": read with inet_diag instead; the SYN queue is unknown"};
		sort_listeners(s.listeners);  // read_snapshot_iter() sorts its own
		snap = std::move(s);
	}
	if (o.snapshot.processes) {
		attach_owners(snap->listeners);
		attach_cgroups(snap->listeners);
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
	timing::mark("render");
	if (timing::enabled()) {
		out.flush();
		timing::mark("write");
	}
	return kExitOk;
}

int run_verify(const Options &o, std::ostream &out, std::ostream &err)
{
	auto choice = parse_source_list(o.verify.sources);
	if (!choice) {
		err << "listenq: --sources: " << choice.error().message << '\n';
		return kExitUsage;
	}
	choice->emulate_no_tcp_diag = o.verify.emulate_no_tcp_diag;
	if (choice->bpf)
		if (int rc = preflight(o, err))
			return rc;

	std::optional<SourceData> first;  // the full read, for the report
	SourceReader reader = [&](const ListenerFilter &f) -> Result<SourceData> {
		auto d = read_sources(*choice, bpf_options(o), f);
		if (d && !first)
			first = *d;
		return d;
	};
	auto cmp = verify_listeners(reader, o.filter.to_filter(), o.verify.rereads);
	if (!cmp)
		return fail(err, "verify", cmp.error());

	VerifyReport r;
	r.netns = current_netns_inode();
	for (Source s : kSources)
		if ((s == Source::bpf && choice->bpf) || (s == Source::diag && choice->diag) ||
		    (s == Source::proc && choice->proc))
			r.sources.push_back(s);
	r.bpf_source = first->bpf_source;
	r.diag_unavailable = first->diag_unavailable;
	r.diag_emulated = first->diag_emulated;
	r.diag_detail = first->diag_detail;
	r.comparison = std::move(*cmp);
	if (auto c = read_listen_counters())
		r.counters = *c;
	if ((r.diag_emulated || r.diag_unavailable) && first->proc) {
		r.ss_without_tcp_diag = ss_text(*first->proc, true, false, -1);
		if (first->bpf)
			r.listenq_ss = ss_text(in_ss_order(*first->bpf), true, false, -1);
	}
	if (o.verify.json)
		out << verify_to_json(r).dump(2) << '\n';
	else
		render_verify_text(out, r);
	return r.comparison.ok() ? kExitOk : kExitFailure;
}

// auto: inet_diag when tcp_diag answers (that is ss's own source, so the
// output is ss's byte for byte, and needs no privilege); iter/tcp when it
// does not (the case ss gets wrong); /proc as a last resort, with a warning.
int run_ss(const Options &o, std::ostream &out, std::ostream &err)
{
	const ListenerFilter filter = o.filter.to_filter();
	const std::string &src = o.ss.source;
	std::optional<std::vector<Listener>> rows;
	std::string why_not;  // first line of each failed source, for the warning
	if (src == "diag" || src == "auto") {
		auto d = read_inet_diag(filter);
		if (d && d->status == DiagStatus::ok)
			rows = std::move(d->listeners);
		else if (src == "diag")
			return fail(err, "ss", d ? Error{ENOENT, "inet_diag: " + d->detail} : d.error());
		else
			why_not += "inet_diag: " + (d ? d->detail : d.error().message);
	}
	if (!rows && (src == "bpf" || src == "auto")) {
		std::ostringstream pre;
		if (int rc = preflight(o, pre)) {
			if (src == "bpf") {
				err << pre.str();
				return rc;
			}
			why_not += "; iter/tcp: " + pre.str().substr(0, pre.str().find('\n'));
		} else if (auto s = read_snapshot_iter(bpf_options(o), filter)) {
			rows = in_ss_order(std::move(s->listeners));
		} else if (src == "bpf") {
			return fail(err, "ss", s.error());
		} else {
			why_not += "; iter/tcp: " + s.error().message;
		}
	}
	if (!rows) {
		auto p = read_proc_net_tcp(filter);
		if (!p)
			return fail(err, "ss", p.error());
		rows = std::move(*p);
		if (src == "auto")
			err << "listenq: warning: Send-Q below is 0, not the backlog: /proc is the only source left ("
			    << why_not << ")\n";
	}
	if (o.ss.processes)
		attach_owners(*rows);
	out << ss_text(*rows, o.ss.numeric, o.ss.processes, terminal_width(STDOUT_FILENO), !o.ss.no_header);
	return kExitOk;
}

namespace {

int run_command(const Options &o, std::ostream &out, std::ostream &err)
{
	if (o.command == "probe")
		return run_probe(o, out, err);
	if (o.command == "snapshot")
		return run_snapshot(o, out, err);
	if (o.command == "verify")
		return run_verify(o, out, err);
	if (o.command == "ss")
		return run_ss(o, out, err);
	if (o.command == "watch")
		return run_watch(o, out, err);
	if (o.command == "trace")
		return run_trace(o, out, err);
	if (o.command == "hist")
		return run_hist(o, out, err);
	if (o.command == "export")
		return run_export(o, out, err);
	if (o.command == "doctor")
		return run_doctor(o, out, err);
	if (o.command == "demo")
		return run_demo(o, out, err);
	if (o.command == "btf-min")
		return run_btf_min(o, out, err);
	err << "listenq: unknown command " << o.command << '\n';
	return kExitUsage;
}

}  // namespace

int run_listenq(const std::vector<std::string> &args, std::ostream &out, std::ostream &err)
{
	timing::start();
	ParseOutcome p = parse_cli(args, out, err);
	if (!p.options)
		return p.exit_code;
	install_libbpf_logger(p.options->common.verbose);
	timing::mark("cli");
	const int rc = run_command(*p.options, out, err);
	timing::report();
	return rc;
}

}  // namespace listenq
