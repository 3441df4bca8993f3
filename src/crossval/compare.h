// Cross-validation of what BPF (iter/tcp), inet_diag and /proc/net/tcp
// report for each listener. Pure: data in, verdicts out.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/listener.h"
#include "util/result.h"

namespace listenq {

enum class Source { bpf, diag, proc };
inline constexpr std::array<Source, 3> kSources = {Source::bpf, Source::diag, Source::proc};
std::string_view source_name(Source s);   // "bpf", "diag", "proc"
std::string_view source_label(Source s);  // "iter/tcp", "inet_diag", "/proc/net/tcp"

// What each source returned; nullopt = not read (not chosen, or unavailable).
struct SourceData {
	std::optional<std::vector<Listener>> bpf, diag, proc;
	std::string bpf_source = "iter/tcp";  // the program that read bpf: Snapshot::source
	bool diag_unavailable = false;  // the kernel has no tcp_diag (ENOENT)
	bool diag_emulated = false;     // --emulate-no-tcp-diag
	std::string diag_detail;

	const std::optional<std::vector<Listener>> &of(Source s) const;
};

enum class Verdict { agree, explained, mismatch };
std::string_view verdict_name(Verdict v);

enum class Field { accept_queue, backlog, drops };
inline constexpr std::array<Field, 3> kFields = {Field::accept_queue, Field::backlog, Field::drops};
std::string_view field_name(Field f);

struct FieldResult {
	Field field;
	std::array<std::optional<std::uint32_t>, 3> values;  // by Source
	Verdict verdict = Verdict::agree;
	std::string explanation;  // id into explanation_text(), when explained
};

struct ListenerResult {
	Listener listener;  // identity, from the first source that has it
	std::vector<FieldResult> fields;
	std::vector<Source> missing_from;  // read, but the listener is not there
	Verdict verdict = Verdict::agree;
	int rereads = 0;                   // re-reads it took to agree (racy reads)
	std::vector<std::string> explanations;  // ids, for the whole listener
};

struct Comparison {
	std::vector<ListenerResult> listeners;
	std::vector<std::string> notes;  // ids that apply to the whole run
	int count(Verdict v) const;
	bool ok() const { return count(Verdict::mismatch) == 0; }
};

// Joins by socket cookie (bpf, diag) and inode (proc), then compares.
Comparison compare_sources(const SourceData &d);

// Compare, then re-read (through read) each mismatching listener up to
// max_rereads times before calling it a mismatch.
using SourceReader = std::function<Result<SourceData>(const ListenerFilter &)>;
Result<Comparison> verify_listeners(const SourceReader &read, const ListenerFilter &filter, int max_rereads);

// One line for each explanation id; "" for an unknown id.
std::string explanation_text(std::string_view id);

}  // namespace listenq
