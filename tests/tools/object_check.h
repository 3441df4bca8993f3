// Reads a BPF ELF object without loading it: per program, what a verifier
// judges before running anything (size, helpers, loops, global data, maps).
// And the rules of Linux 4.19 for kprobe programs, the tier that old
// kernels without tp_btf, ringbuf or global data run
// (tests/unit/bpf_object_check_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace listenq {

// A symbol that an instruction is relocated against.
struct SymbolRef {
	std::string section;  // ".rodata", ".bss", ".maps", "" for an extern
	std::string symbol;   // "lq_config" (the section's name when no variable sits at the offset)
};

struct MapRef {
	std::string name;        // "events"
	std::uint32_t type = 0;  // enum bpf_map_type
};

// A jump that closes a cycle of the control-flow graph: 4.19's check_cfg()
// says "back-edge from insn <from> to <to>" and refuses the program.
struct BackEdge {
	std::string function;  // the program or the subprogram it is in
	std::size_t from = 0;  // instruction index within that function
	std::size_t to = 0;
};

// One program of an object, as libbpf would load it.
struct ObjectProgram {
	std::string name;     // "kp_conn_request"
	std::string section;  // "kprobe/tcp_conn_request"
	std::size_t insns = 0;  // its own instructions
	// Subprograms reached by bpf-to-bpf calls (BPF_PSEUDO_CALL, or a
	// callback's address): libbpf appends each once at load.
	std::vector<std::string> subprogs;
	std::size_t subprog_insns = 0;
	std::set<std::int32_t> helpers;  // helper IDs called (BPF_CALL, src_reg 0), subprograms included
	std::vector<BackEdge> back_edges;
	std::size_t jmp32_insns = 0;          // class BPF_JMP32 (Linux 5.1+)
	std::size_t atomic_insns = 0;         // atomics other than add without fetch (BPF_XADD): Linux 5.12+
	std::vector<SymbolRef> global_data;  // .data, .bss, .rodata*: BPF_PSEUDO_MAP_VALUE at load (Linux 5.2+)
	std::vector<SymbolRef> externs;      // __kconfig / __ksym
	std::vector<MapRef> maps;

	std::size_t load_insns() const { return insns + subprog_insns; }
};

// Every program of the object at path (libbpf's list and order).
Result<std::vector<ObjectProgram>> read_object_programs(const std::string &path);

// "bpf_ringbuf_reserve"; "helper#N" for an ID the build's linux/bpf.h does not know.
std::string helper_name(std::int32_t id);

// The helper a program calls once libbpf 1.1 has prepared it for a kernel
// without bpf_probe_read_kernel() (before 5.5): probe_read_{kernel,user}
// become probe_read, their _str forms probe_read_str. Others are unchanged.
std::int32_t helper_after_libbpf_fallback(std::int32_t id);

// Linux 4.19 lets a BPF_PROG_TYPE_KPROBE program call this helper.
bool kprobe_helper_in_4_19(std::int32_t id);
// Linux 4.19 creates maps of this type.
bool map_type_in_4_19(std::uint32_t type);
// 4.19's BPF_MAXINSNS: bpf_prog_load() refuses a longer program (E2BIG).
inline constexpr std::size_t kMaxInsns4_19 = 4096;

enum class Check4_19 { insns, back_edge, jmp32, atomics, helper, map_type, global_data, externs };
std::string_view check_name(Check4_19 c);  // "insns", "helper", ...

struct Problem4_19 {
	Check4_19 check;
	// "kprobe/tcp_conn_request kp_conn_request: helper 131 (bpf_ringbuf_reserve) is not in 4.19"
	std::string message;
};

// On the 4.19 path: a kprobe or kretprobe program, by its section or by its
// entry in listenq's program tables (src/plan/facts.cpp).
bool on_4_19_path(const ObjectProgram &p);

// What keeps this program from loading as a kprobe program on 4.19.
std::vector<Problem4_19> problems_on_4_19(const ObjectProgram &p);

// One line per program: section, name, instructions, loops, global data,
// helpers by name ("probe_read_kernel>probe_read": libbpf's fallback;
// "!": not a 4.19 kprobe helper).
void render_object_programs(std::ostream &out, const std::vector<ObjectProgram> &progs);

}  // namespace listenq
