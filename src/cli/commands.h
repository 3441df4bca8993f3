// Command runners. Each returns the process exit code:
// 0 ok, 1 runtime failure, 2 usage, 3 no privilege / unsupported kernel.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/options.h"
#include "util/result.h"

namespace listenq {

enum ExitCode { kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitUnsupported = 3 };

int run_probe(const Options &o, std::ostream &out, std::ostream &err);
int run_snapshot(const Options &o, std::ostream &out, std::ostream &err);
int run_verify(const Options &o, std::ostream &out, std::ostream &err);
int run_ss(const Options &o, std::ostream &out, std::ostream &err);
int run_watch(const Options &o, std::ostream &out, std::ostream &err);
int run_trace(const Options &o, std::ostream &out, std::ostream &err);
int run_hist(const Options &o, std::ostream &out, std::ostream &err);
int run_export(const Options &o, std::ostream &out, std::ostream &err);
// Exit 0 or 1 by the findings; 1 or 3 on a failure, with *failed set
// (when given). window_started (when given) runs as the window begins.
int run_doctor(const Options &o, std::ostream &out, std::ostream &err,
	       const std::function<void()> &window_started = nullptr, bool *failed = nullptr);
int run_demo(const Options &o, std::ostream &out, std::ostream &err);
int run_btf_min(const Options &o, std::ostream &out, std::ostream &err);
// Shared by commands that load BPF: BTF and privilege; 0 when it may proceed.
int preflight(const Options &o, std::ostream &err);
// --btf and LISTENQ_REFUSE for the snapshot programs.
struct BpfOptions bpf_options(const Options &o);
// Error -> message (+ hint) and exit code.
int fail(std::ostream &err, const std::string &command, const Error &e);

// Parse and run: what main() does.
int run_listenq(const std::vector<std::string> &args, std::ostream &out, std::ostream &err);

}  // namespace listenq
