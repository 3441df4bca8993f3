#include "cli/options.h"

#include <CLI/CLI.hpp>

#include "version.h"

namespace listenq {

namespace {

constexpr const char *kMainExamples = R"(EXAMPLES:
  sudo listenq snapshot               every listener: accept queue, backlog, SYN queue
  sudo listenq snapshot -p --port 80  with the owning processes, port 80 only
  sudo listenq snapshot --json        machine-readable (schema: docs/json.md)
  sudo listenq probe                  what this kernel allows, and the tier per hook
  sudo listenq probe --attach=kprobe  what forcing kprobes would give
)";

constexpr const char *kSnapshotExamples = R"(EXAMPLES:
  sudo listenq snapshot          like `ss -lnt`, but Send-Q is always the backlog
  sudo listenq snapshot -4 -p    IPv4 only, with pid/comm of the owners
  sudo listenq snapshot --port 443 --json | jq '.listeners[].accept_queue'

Columns: Recv-Q = accept queue (sk_ack_backlog), Send-Q = backlog limit
(sk_max_ack_backlog, after the somaxconn clamp), SynQ = SYN queue
(request sockets), Drops = sk_drops (ListenDrops for this socket).
)";

constexpr const char *kProbeExamples = R"(EXAMPLES:
  sudo listenq probe
  sudo listenq probe --json | jq '.hooks[] | {hook, tier}'
  sudo listenq probe --attach=fentry   why fentry cannot be used here
)";

}  // namespace

ParseOutcome parse_cli(const std::vector<std::string> &args, std::ostream &out, std::ostream &err)
{
	Options o;
	CLI::App app{"listenq: TCP listen queues, backlogs and overflows, read from the kernel with BPF"};
	app.name("listenq");
	app.set_version_flag("--version", std::string("listenq ") + LISTENQ_VERSION);
	app.require_subcommand(1);
	app.fallthrough();
	app.footer(kMainExamples);

	std::string attach = "auto";
	app.add_option("--btf", o.common.btf, "BTF file for CO-RE when the kernel has none in /sys/kernel/btf")
		->type_name("PATH");
	app.add_option("--attach", attach, "attach tier: auto, fentry, kprobe or tracepoint")
		->check(CLI::IsMember({"auto", "fentry", "kprobe", "tracepoint"}))
		->type_name("MODE");
	app.add_flag("-v,--verbose", o.common.verbose, "print libbpf's messages to stderr");

	auto *probe = app.add_subcommand("probe", "what this kernel supports and which tier each hook would use");
	probe->add_flag("--json", o.probe.json, "JSON output");
	probe->footer(kProbeExamples);

	auto *snap = app.add_subcommand("snapshot", "list listening sockets with queue, backlog and SYN queue");
	int port = 0;
	snap->add_flag("-4,--ipv4", o.snapshot.ipv4_only, "IPv4 only");
	snap->add_flag("-6,--ipv6", o.snapshot.ipv6_only, "IPv6 only");
	snap->add_option("--port", port, "only listeners on this local port")
		->check(CLI::Range(1, 65535))
		->type_name("PORT");
	snap->add_flag("--json", o.snapshot.json, "JSON output");
	snap->add_flag("-n,--numeric", o.snapshot.numeric, "do not resolve service names");
	snap->add_flag("-p,--processes", o.snapshot.processes, "show owning pid/comm (scans /proc/*/fd)");
	snap->footer(kSnapshotExamples);

	std::vector<std::string> argv_store = {"listenq"};
	argv_store.insert(argv_store.end(), args.begin(), args.end());
	std::vector<char *> argv;
	for (auto &s : argv_store)
		argv.push_back(s.data());

	try {
		app.parse(static_cast<int>(argv.size()), argv.data());
	} catch (const CLI::CallForHelp &e) {
		CLI::App *sub = app.get_subcommands().empty() ? &app : app.get_subcommands().front();
		out << sub->help();
		return {std::nullopt, 0};
	} catch (const CLI::CallForAllHelp &e) {
		out << app.help("", CLI::AppFormatMode::All);
		return {std::nullopt, 0};
	} catch (const CLI::CallForVersion &e) {
		out << e.what() << '\n';
		return {std::nullopt, 0};
	} catch (const CLI::ParseError &e) {
		CLI::App *sub = app.get_subcommands().empty() ? &app : app.get_subcommands().front();
		err << "listenq: " << e.what() << "\n\n" << sub->help();
		return {std::nullopt, 2};
	}

	if (o.snapshot.ipv4_only && o.snapshot.ipv6_only) {
		err << "listenq: -4 and -6 exclude each other\n\n" << snap->help();
		return {std::nullopt, 2};
	}
	o.common.attach = *parse_attach_mode(attach);
	if (port)
		o.snapshot.port = static_cast<std::uint16_t>(port);
	o.command = app.get_subcommands().front()->get_name();
	return {o, 0};
}

}  // namespace listenq
