// Reads the chosen listener sources for `verify` and `ss`.
#pragma once

#include "bpf/snapshot_reader.h"
#include "crossval/compare.h"
#include "util/result.h"

namespace listenq {

struct SourceChoice {
	bool bpf = true;
	bool diag = true;
	bool proc = true;
	bool emulate_no_tcp_diag = false;  // do not ask inet_diag; behave as if ENOENT
};

// "bpf,diag,proc" (any subset, any order) -> SourceChoice, or an error.
Result<SourceChoice> parse_source_list(const std::string &list);

Result<SourceData> read_sources(const SourceChoice &choice, const BpfOptions &bpf, const ListenerFilter &filter);

}  // namespace listenq
