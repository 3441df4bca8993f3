// Command-line model and parser (CLI11). Pure: no side effects but the
// text it writes to the given streams, so tests drive it directly.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "bpf/tiers.h"

namespace listenq {

struct CommonOptions {
	std::string btf;  // --btf PATH
	AttachMode attach = AttachMode::automatic;
	bool verbose = false;
};

struct SnapshotOptions {
	bool ipv4_only = false;
	bool ipv6_only = false;
	std::optional<std::uint16_t> port;
	bool json = false;
	bool numeric = false;
	bool processes = false;
};

struct ProbeOptions {
	bool json = false;
};

struct Options {
	std::string command;  // "probe", "snapshot"
	CommonOptions common;
	SnapshotOptions snapshot;
	ProbeOptions probe;
};

struct ParseOutcome {
	std::optional<Options> options;  // set when a command should run
	int exit_code = 0;               // otherwise: 0 after --help/--version, 2 on usage errors
};

ParseOutcome parse_cli(const std::vector<std::string> &args, std::ostream &out, std::ostream &err);

}  // namespace listenq
