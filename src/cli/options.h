// Command-line model and parser (CLI11). Pure: no side effects but the
// text it writes to the given streams, so tests drive it directly.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "model/listener.h"
#include "model/port_groups.h"

namespace listenq {

struct CommonOptions {
	std::string btf;  // --btf PATH
	AttachMode attach = AttachMode::automatic;
	bool verbose = false;
	std::vector<Refusal> refuse;              // LISTENQ_REFUSE
	std::vector<std::string> skip_functions;  // LISTENQ_SKIP_FUNCTIONS
	// The raw syscall hooks (listen()'s requested backlog, the clamp):
	// trace by default (--no-syscalls), watch/hist/export/probe with --syscalls.
	bool syscalls = false;
	// The probe scope these knobs make (kinds and map kinds refused,
	// functions treated as absent).
	ProbeScope probe_scope(bool function_attach) const;
};

// -4, -6, --port: shared by every command that lists listeners.
struct FilterOptions {
	bool ipv4_only = false;
	bool ipv6_only = false;
	std::optional<std::uint16_t> port;
	ListenerFilter to_filter() const;
};

struct SnapshotOptions {
	bool json = false;
	bool numeric = false;
	bool processes = false;
};

struct ProbeOptions {
	bool json = false;
};

struct VerifyOptions {
	std::string sources = "bpf,diag,proc";
	bool emulate_no_tcp_diag = false;
	bool json = false;
	int rereads = 5;
};

struct SsOptions {
	bool numeric = false;
	bool processes = false;
	bool no_header = false;
	std::string source = "auto";  // auto, bpf, diag, proc
};

// watch and trace.
struct TracingOptions {
	bool json = false;
	std::uint32_t sample_ms = 100;       // iter/tcp sampling period (tier 3)
	std::uint32_t max_listeners = 65536;  // listener map capacity
	// Event ring buffer; 0: by command (ringbuf_kb_for()). Its pages are
	// mapped twice into listenq, so they count twice in its RSS.
	std::uint32_t ringbuf_kb = 0;
	std::optional<std::uint32_t> pid;    // owner pid (listen() caller)
	std::optional<std::uint32_t> netns;  // netns inode
	double duration = 0;                 // trace: seconds, 0 = until interrupted
	double interval = 1;                 // watch: seconds per frame
	std::uint32_t count = 0;             // watch: frames, 0 = until interrupted
};

// export: Prometheus /metrics.
struct ExportOptions {
	std::string listen = "127.0.0.1:9464";  // --listen ADDR:PORT
	bool once = false;                      // one exposition to stdout (textfile collectors)
	std::string metrics = "default";        // --metrics default|full|LIST (checked by parse_cli)
	std::string group_by = "auto";          // --group-by auto|listener|port
	std::uint32_t top = 0;                  // --top N rows by pressure, 0 = all
	PortSet ports;                          // --port LIST (export's --port; filter.port stays unset)
};
// --group-by auto: a row per listener up to this many listeners (after
// --port and the filters), per port above it.
inline constexpr std::size_t kAutoGroupListeners = 1000;

// demo: a private netns, a slow server, a burst that overflows it.
struct DemoOptions {
	double seconds = 4;             // watch frames (one per second)
	int backlog = 8;                // the server's listen() backlog
	int burst = 64;                 // connections the client opens at once
	std::uint32_t accept_ms = 250;  // the server accepts one connection per accept_ms
	double doctor_seconds = 5;      // then `doctor` over a second burst; 0: no doctor step
};

// doctor: the window is TracingOptions::duration (default 10 s).
struct DoctorOptions {
	bool emulate_no_tcp_diag = false;  // report tcp_diag as missing (tests; what a kernel without it shows)
};

// btf-min: a minimized BTF for kernels without /sys/kernel/btf/vmlinux.
struct BtfMinOptions {
	std::string output;                              // the file to write
	std::string vmlinux = "/sys/kernel/btf/vmlinux";  // the target kernel's full BTF
	std::string bpftool;                             // "" : looked up
};

struct Options {
	std::string command;  // "probe", "snapshot", "verify", "ss", "watch", "trace", "hist", "export", "demo", "doctor", "btf-min"
	CommonOptions common;
	FilterOptions filter;
	SnapshotOptions snapshot;
	ProbeOptions probe;
	VerifyOptions verify;
	SsOptions ss;
	TracingOptions tracing;
	ExportOptions exporter;
	DemoOptions demo;
	DoctorOptions doctor;
	BtfMinOptions btf_min;
};

struct ParseOutcome {
	std::optional<Options> options;  // set when a command should run
	int exit_code = 0;               // otherwise: 0 after --help/--version, 2 on usage errors
};

ParseOutcome parse_cli(const std::vector<std::string> &args, std::ostream &out, std::ostream &err);

// The command line as data, from the same parser: what the man page and the
// bash completion must cover (tests/unit/docs_test.cpp).
struct CliCommandSpec {
	std::string name;                 // "" for the global options
	std::vector<std::string> flags;   // "--port", "-4", ...
	std::string examples;             // the help footer
};
std::vector<CliCommandSpec> describe_cli();

// "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (all addresses): host and port.
struct ListenAddress {
	std::string host;  // numeric: "127.0.0.1", "::1"
	std::uint16_t port = 0;
	int family = AF_INET;  // AF_INET6 for a [bracketed] host
};
std::optional<ListenAddress> parse_listen_address(const std::string &s);

}  // namespace listenq
