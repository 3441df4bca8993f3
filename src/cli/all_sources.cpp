#include "cli/all_sources.h"

#include <sstream>

#include "sources/inet_diag.h"
#include "sources/proc_net.h"

namespace listenq {

Result<SourceChoice> parse_source_list(const std::string &list)
{
	SourceChoice c{false, false, false, false};
	std::istringstream in(list);
	for (std::string item; std::getline(in, item, ',');) {
		if (item == "bpf")
			c.bpf = true;
		else if (item == "diag")
			c.diag = true;
		else if (item == "proc")
			c.proc = true;
		else
			return Error{EINVAL, "unknown source '" + item + "' (choose from bpf, diag, proc)"};
	}
	if (!c.bpf && !c.diag && !c.proc)
		return Error{EINVAL, "no source chosen (choose from bpf, diag, proc)"};
	return c;
}

Result<SourceData> read_sources(const SourceChoice &choice, const BpfOptions &bpf, const ListenerFilter &filter)
{
	SourceData d;
	if (choice.bpf) {
		auto s = read_snapshot_iter(bpf, filter);
		if (!s)
			return s.error();
		d.bpf = std::move(s->listeners);
		d.bpf_source = s->source;
	}
	if (choice.emulate_no_tcp_diag) {
		d.diag_emulated = true;
		d.diag_detail = "not asked (--emulate-no-tcp-diag)";
	} else if (choice.diag) {
		auto r = read_inet_diag(filter);
		if (!r)
			return r.error();
		if (r->status == DiagStatus::unavailable) {
			d.diag_unavailable = true;
			d.diag_detail = r->detail;
		} else {
			d.diag = std::move(r->listeners);
		}
	}
	if (choice.proc) {
		auto p = read_proc_net_tcp(filter);
		if (!p)
			return p.error();
		d.proc = std::move(*p);
	}
	return d;
}

}  // namespace listenq
