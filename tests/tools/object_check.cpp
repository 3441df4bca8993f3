#include "object_check.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "bpf/libbpf_raii.h"
#include "plan/facts.h"
#include "render/table.h"
#include "util/unique_fd.h"

namespace listenq {

namespace {

// ---- The ELF side: what libbpf does not expose before load ----

struct ElfSection {
	std::string name;
	bool exec = false;
	std::vector<std::uint8_t> bytes;  // exec sections only
};

struct ElfSymbol {
	std::string name;
	std::size_t shndx = 0;
	std::uint64_t value = 0;
	std::uint64_t size = 0;
	unsigned type = STT_NOTYPE;
};

struct ElfImage {
	std::vector<ElfSection> sections;  // by section index
	std::vector<ElfSymbol> symbols;    // by symbol index
	// Exec section -> byte offset of the instruction -> symbol index
	// (.rel<section>).
	std::map<std::size_t, std::map<std::uint64_t, std::size_t>> relocs;
};

struct ElfEnd {
	void operator()(Elf *e) const { elf_end(e); }
};

Error elf_error(const std::string &what) { return Error{0, what + ": " + elf_errmsg(-1)}; }

Result<ElfImage> read_elf(const std::string &path)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return elf_error("libelf");
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd.valid())
		return Error::from_errno(errno, "open " + path);
	std::unique_ptr<Elf, ElfEnd> elf(elf_begin(fd.get(), ELF_C_READ, nullptr));
	std::size_t shstrndx = 0, nsec = 0;
	if (!elf || elf_getshdrstrndx(elf.get(), &shstrndx) || elf_getshdrnum(elf.get(), &nsec))
		return elf_error(path);

	ElfImage img;
	img.sections.resize(nsec);
	std::vector<Elf_Scn *> rel_sections;
	Elf_Scn *symtab = nullptr;
	for (Elf_Scn *scn = elf_nextscn(elf.get(), nullptr); scn; scn = elf_nextscn(elf.get(), scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			return elf_error(path);
		ElfSection &s = img.sections[elf_ndxscn(scn)];
		const char *name = elf_strptr(elf.get(), shstrndx, sh.sh_name);
		s.name = name ? name : "";
		s.exec = sh.sh_type == SHT_PROGBITS && (sh.sh_flags & SHF_EXECINSTR);
		Elf_Data *d = s.exec ? elf_getdata(scn, nullptr) : nullptr;
		if (d && d->d_buf)
			s.bytes.assign(static_cast<const std::uint8_t *>(d->d_buf),
				       static_cast<const std::uint8_t *>(d->d_buf) + d->d_size);
		if (sh.sh_type == SHT_SYMTAB)
			symtab = scn;
		else if (sh.sh_type == SHT_REL)
			rel_sections.push_back(scn);
	}
	if (!symtab)
		return Error{0, path + ": no symbol table"};

	GElf_Shdr sh;
	Elf_Data *d = elf_getdata(symtab, nullptr);
	if (!gelf_getshdr(symtab, &sh) || !d || !sh.sh_entsize)
		return elf_error(path + ": .symtab");
	for (std::size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(d, static_cast<int>(i), &sym))
			return elf_error(path + ": .symtab");
		const char *name = elf_strptr(elf.get(), sh.sh_link, sym.st_name);
		img.symbols.push_back(
			{name ? name : "", sym.st_shndx, sym.st_value, sym.st_size, static_cast<unsigned>(GELF_ST_TYPE(sym.st_info))});
	}

	for (Elf_Scn *scn : rel_sections) {
		GElf_Shdr rsh;
		Elf_Data *rd = elf_getdata(scn, nullptr);
		if (!gelf_getshdr(scn, &rsh) || !rd || !rsh.sh_entsize)
			return elf_error(path + ": relocations");
		if (rsh.sh_info >= nsec || !img.sections[rsh.sh_info].exec)
			continue;  // .rel.BTF, .rel.BTF.ext
		auto &by_offset = img.relocs[rsh.sh_info];
		for (std::size_t i = 0; i < rsh.sh_size / rsh.sh_entsize; i++) {
			GElf_Rel rel;
			if (!gelf_getrel(rd, static_cast<int>(i), &rel))
				return elf_error(path + ": relocations");
			by_offset[rel.r_offset] = GELF_R_SYM(rel.r_info);
		}
	}
	return img;
}

// ---- One program and the subprograms it reaches ----

// A function's instructions: the program's own, or a subprogram's.
struct Function {
	std::string name;
	std::size_t shndx = 0;
	std::size_t start = 0;  // first instruction's index in its section
	std::vector<bpf_insn> code;
};

bool is_ld_imm64(const bpf_insn &in) { return in.code == (BPF_LD | BPF_IMM | BPF_DW); }

bool is_data_section(std::string_view s)
{
	return s == ".data" || s == ".bss" || s.starts_with(".data.") || s.starts_with(".rodata");
}

// Successors in the verifier's order (check_cfg(): fall-through, then the
// branch); out of range ones are left out.
std::vector<std::size_t> successors(const std::vector<bpf_insn> &code, std::size_t i)
{
	const bpf_insn &in = code[i];
	const unsigned cls = BPF_CLASS(in.code), op = BPF_OP(in.code);
	std::vector<std::size_t> out;
	auto add = [&](std::ptrdiff_t t) {
		if (t >= 0 && static_cast<std::size_t>(t) < code.size())
			out.push_back(static_cast<std::size_t>(t));
	};
	const auto at = static_cast<std::ptrdiff_t>(i);
	if (is_ld_imm64(in))
		add(at + 2);
	else if ((cls != BPF_JMP && cls != BPF_JMP32) || op == BPF_CALL)
		add(at + 1);
	else if (op == BPF_JA)
		add(at + 1 + (cls == BPF_JMP32 ? in.imm : in.off));
	else if (op != BPF_EXIT) {
		add(at + 1);
		add(at + 1 + in.off);
	}
	return out;
}

// Depth-first from the first instruction, like 4.19's check_cfg(): an
// edge to an instruction still on the stack closes a loop.
std::vector<BackEdge> find_back_edges(const Function &f)
{
	enum : std::uint8_t { unseen, on_stack, done };
	std::vector<std::uint8_t> state(f.code.size(), unseen);
	std::vector<BackEdge> out;
	if (f.code.empty())
		return out;
	struct Frame {
		std::size_t insn;
		std::vector<std::size_t> next;
		std::size_t k = 0;
	};
	std::vector<Frame> stack{{0, successors(f.code, 0)}};
	state[0] = on_stack;
	while (!stack.empty()) {
		Frame &top = stack.back();
		if (top.k == top.next.size()) {
			state[top.insn] = done;
			stack.pop_back();
			continue;
		}
		const std::size_t w = top.next[top.k++];
		if (state[w] == on_stack)
			out.push_back({f.name, top.insn, w});
		else if (state[w] == unseen) {
			state[w] = on_stack;
			stack.push_back({w, successors(f.code, w)});
		}
	}
	return out;
}

void add_once(std::vector<SymbolRef> &v, SymbolRef x)
{
	if (std::none_of(v.begin(), v.end(), [&](const SymbolRef &y) { return y.section == x.section && y.symbol == x.symbol; }))
		v.push_back(std::move(x));
}

void add_once(std::vector<MapRef> &v, MapRef x)
{
	if (std::none_of(v.begin(), v.end(), [&](const MapRef &y) { return y.name == x.name; }))
		v.push_back(std::move(x));
}

class ProgramReader {
public:
	ProgramReader(const ElfImage &img, const std::map<std::string, std::uint32_t> &map_types, ObjectProgram &out)
		: img_(img), map_types_(map_types), out_(out)
	{
	}

	Result<void> read(const Function &f)
	{
		seen_.insert({f.shndx, f.start});
		for (const BackEdge &e : find_back_edges(f))
			out_.back_edges.push_back(e);
		const auto relocs = img_.relocs.find(f.shndx);
		for (std::size_t i = 0; i < f.code.size(); i++) {
			const bpf_insn &in = f.code[i];
			const std::size_t *sym = nullptr;
			if (relocs != img_.relocs.end()) {
				auto r = relocs->second.find((f.start + i) * sizeof(bpf_insn));
				if (r != relocs->second.end())
					sym = &r->second;
			}
			if (BPF_CLASS(in.code) == BPF_JMP32)
				out_.jmp32_insns++;
			// 4.19's check_xadd(): "BPF_XADD uses reserved fields" unless imm is 0.
			if (BPF_CLASS(in.code) == BPF_STX && BPF_MODE(in.code) == BPF_ATOMIC && in.imm != BPF_ADD)
				out_.atomic_insns++;
			const bool call = in.code == (BPF_JMP | BPF_CALL);
			if (call && in.src_reg == 0)
				out_.helpers.insert(in.imm);
			if (sym) {
				if (auto r = relocated(f, i, *sym); !r)
					return r;
			} else if (call && in.src_reg == BPF_PSEUDO_CALL) {
				// A call within the section, resolved by clang.
				if (auto r = call_into(f.shndx, f.start + i + 1 + in.imm, f.name); !r)
					return r;
			}
			if (is_ld_imm64(in))
				i++;
		}
		return {};
	}

private:
	// An instruction relocated against symbol s: a map, global data, an
	// extern or a subprogram (libbpf's bpf_program__record_reloc()).
	Result<void> relocated(const Function &f, std::size_t i, std::size_t s)
	{
		if (s >= img_.symbols.size())
			return Error{0, f.name + ": relocation against symbol #" + std::to_string(s)};
		const bpf_insn &in = f.code[i];
		const ElfSymbol &sym = img_.symbols[s];
		if (sym.shndx == SHN_UNDEF) {
			add_once(out_.externs, SymbolRef{"", sym.name});
			return {};
		}
		if (sym.shndx >= img_.sections.size())
			return {};
		const ElfSection &sec = img_.sections[sym.shndx];
		if (sec.name == ".maps" || sec.name == "maps") {
			auto t = map_types_.find(sym.name);
			add_once(out_.maps, MapRef{sym.name, t == map_types_.end() ? 0u : t->second});
		} else if (is_data_section(sec.name)) {
			add_once(out_.global_data, SymbolRef{sec.name, variable_at(sym, in.imm)});
		} else if (sec.exec) {
			// libbpf's bpf_object__reloc_code(): a call's imm counts
			// instructions, a callback address's imm counts bytes.
			const std::size_t target = in.code == (BPF_JMP | BPF_CALL)
							   ? sym.value / sizeof(bpf_insn) + in.imm + 1
							   : (sym.value + in.imm) / sizeof(bpf_insn);
			return call_into(sym.shndx, target, f.name);
		}
		return {};
	}

	// The variable a data relocation reaches: the symbol itself, or the one
	// at the instruction's offset when clang used the section's symbol.
	std::string variable_at(const ElfSymbol &sym, std::int32_t imm) const
	{
		if (sym.type != STT_SECTION)
			return sym.name;
		for (const ElfSymbol &v : img_.symbols)
			if (v.shndx == sym.shndx && v.type == STT_OBJECT && v.value <= std::uint64_t(imm) &&
			    std::uint64_t(imm) < v.value + std::max<std::uint64_t>(v.size, 1))
				return v.name;
		return img_.sections[sym.shndx].name + "+" + std::to_string(imm);
	}

	// The function holding instruction `target` of section shndx, read once.
	Result<void> call_into(std::size_t shndx, std::size_t target, const std::string &caller)
	{
		for (const ElfSymbol &s : img_.symbols) {
			const std::size_t first = s.value / sizeof(bpf_insn), n = s.size / sizeof(bpf_insn);
			if (s.type != STT_FUNC || s.shndx != shndx || target < first || target >= first + n)
				continue;
			if (seen_.count({shndx, first}))
				return {};
			Function callee{s.name, shndx, first, {}};
			const auto &bytes = img_.sections[shndx].bytes;
			if ((first + n) * sizeof(bpf_insn) > bytes.size())
				return Error{0, s.name + ": outside its section"};
			callee.code.resize(n);
			std::memcpy(callee.code.data(), bytes.data() + first * sizeof(bpf_insn), n * sizeof(bpf_insn));
			out_.subprogs.push_back(s.name);
			out_.subprog_insns += n;
			return read(callee);
		}
		return Error{0, caller + ": call to instruction " + std::to_string(target) + " of " +
					img_.sections[shndx].name + ", in no function"};
	}

	const ElfImage &img_;
	const std::map<std::string, std::uint32_t> &map_types_;
	ObjectProgram &out_;
	std::set<std::pair<std::size_t, std::size_t>> seen_;
};

// The program's symbol: a function of that name in a section of that name.
const ElfSymbol *program_symbol(const ElfImage &img, const std::string &name, const std::string &section)
{
	for (const ElfSymbol &s : img.symbols)
		if (s.type == STT_FUNC && s.name == name && s.shndx < img.sections.size() &&
		    img.sections[s.shndx].name == section)
			return &s;
	return nullptr;
}

}  // namespace

Result<std::vector<ObjectProgram>> read_object_programs(const std::string &path)
{
	auto img = read_elf(path);
	if (!img)
		return img.error();
	ObjectPtr obj(bpf_object__open_file(path.c_str(), nullptr));
	if (!obj)
		return Error::from_errno(errno, "open BPF object " + path);

	std::map<std::string, std::uint32_t> map_types;
	bpf_map *m;
	bpf_object__for_each_map(m, obj.get()) map_types[bpf_map__name(m)] = bpf_map__type(m);

	std::vector<ObjectProgram> out;
	bpf_program *p;
	bpf_object__for_each_program(p, obj.get())
	{
		ObjectProgram op;
		op.name = bpf_program__name(p);
		op.section = bpf_program__section_name(p);
		op.insns = bpf_program__insn_cnt(p);
		const ElfSymbol *sym = program_symbol(*img, op.name, op.section);
		if (!sym || sym->size / sizeof(bpf_insn) != op.insns)
			return Error{0, path + ": " + op.section + " " + op.name + ": no function symbol of " +
						std::to_string(op.insns) + " instructions"};
		Function f{op.name, sym->shndx, sym->value / sizeof(bpf_insn), {}};
		const bpf_insn *insns = bpf_program__insns(p);
		f.code.assign(insns, insns + op.insns);
		if (auto r = ProgramReader(*img, map_types, op).read(f); !r)
			return r.error().context(path);
		out.push_back(std::move(op));
	}
	return out;
}

// ---- Helpers by ID ----

namespace {

// include/uapi/linux/bpf.h lists the helpers in ID order (the build's
// linux-libc-dev): "FN(name)," before 6.2, "FN(name, id, ctx)" since.
#ifdef ___BPF_FUNC_MAPPER
#define LQ_HELPER_NAME(name, ...) "bpf_" #name,
#else
#define LQ_HELPER_NAME(name) "bpf_" #name
#endif
constexpr const char *kHelperNames[] = {__BPF_FUNC_MAPPER(LQ_HELPER_NAME)};
#undef LQ_HELPER_NAME
static_assert(std::size(kHelperNames) == __BPF_FUNC_MAX_ID);

// Linux v4.19, kernel/trace/bpf_trace.c: kprobe_prog_func_proto() and the
// tracing_func_proto() it falls back to (read in a 4.19.304 tree; stable
// releases add no helpers). IDs: 4.19's include/uapi/linux/bpf.h
// __BPF_FUNC_MAPPER, whose last helper is skb_ancestor_cgroup_id = 83.
// Left out: override_return (58), only with CONFIG_BPF_KPROBE_OVERRIDE.
// get_current_cgroup_id needs CONFIG_CGROUPS (distribution kernels have it).
constexpr bpf_func_id kKprobeHelpers4_19[] = {
	// tracing_func_proto()
	BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem, BPF_FUNC_map_delete_elem, BPF_FUNC_probe_read,
	BPF_FUNC_ktime_get_ns, BPF_FUNC_tail_call, BPF_FUNC_get_current_pid_tgid, BPF_FUNC_get_current_task,
	BPF_FUNC_get_current_uid_gid, BPF_FUNC_get_current_comm, BPF_FUNC_trace_printk,
	BPF_FUNC_get_smp_processor_id, BPF_FUNC_get_numa_node_id, BPF_FUNC_perf_event_read,
	BPF_FUNC_probe_write_user, BPF_FUNC_current_task_under_cgroup, BPF_FUNC_get_prandom_u32,
	BPF_FUNC_probe_read_str, BPF_FUNC_get_current_cgroup_id,
	// kprobe_prog_func_proto()
	BPF_FUNC_perf_event_output, BPF_FUNC_get_stackid, BPF_FUNC_get_stack, BPF_FUNC_perf_event_read_value,
};
static_assert(BPF_FUNC_skb_ancestor_cgroup_id == 83 && BPF_FUNC_get_current_cgroup_id == 80 &&
	      BPF_FUNC_get_stack == 67 && BPF_FUNC_probe_read_str == 45);
static_assert(std::all_of(std::begin(kKprobeHelpers4_19), std::end(kKprobeHelpers4_19),
			  [](bpf_func_id id) { return id <= BPF_FUNC_skb_ancestor_cgroup_id; }));

}  // namespace

std::string helper_name(std::int32_t id)
{
	if (id >= 0 && static_cast<std::size_t>(id) < std::size(kHelperNames))
		return kHelperNames[id];
	return "helper#" + std::to_string(id);
}

// libbpf v1.1.2 src/libbpf.c, bpf_object__sanitize_prog() (lines 6677-6710),
// run on every program by bpf_object__load_progs() before loading: without
// FEAT_PROBE_READ_KERN (probe_kern_probe_read_kernel(): a tracepoint
// program calling bpf_probe_read_kernel loads) it sets insn->imm to
// BPF_FUNC_probe_read for probe_read_kernel/probe_read_user, and to
// BPF_FUNC_probe_read_str for their _str forms. Nothing else is rewritten.
std::int32_t helper_after_libbpf_fallback(std::int32_t id)
{
	switch (id) {
	case BPF_FUNC_probe_read_kernel:
	case BPF_FUNC_probe_read_user:
		return BPF_FUNC_probe_read;
	case BPF_FUNC_probe_read_kernel_str:
	case BPF_FUNC_probe_read_user_str:
		return BPF_FUNC_probe_read_str;
	default:
		return id;
	}
}

bool kprobe_helper_in_4_19(std::int32_t id)
{
	return std::find(std::begin(kKprobeHelpers4_19), std::end(kKprobeHelpers4_19), id) !=
	       std::end(kKprobeHelpers4_19);
}

// 4.19's enum bpf_map_type ends at BPF_MAP_TYPE_REUSEPORT_SOCKARRAY (20).
bool map_type_in_4_19(std::uint32_t type)
{
	static_assert(BPF_MAP_TYPE_REUSEPORT_SOCKARRAY == 20);
	return type != BPF_MAP_TYPE_UNSPEC && type <= BPF_MAP_TYPE_REUSEPORT_SOCKARRAY;
}

std::string_view check_name(Check4_19 c)
{
	switch (c) {
	case Check4_19::insns: return "insns";
	case Check4_19::back_edge: return "back_edge";
	case Check4_19::jmp32: return "jmp32";
	case Check4_19::atomics: return "atomics";
	case Check4_19::helper: return "helper";
	case Check4_19::map_type: return "map_type";
	case Check4_19::global_data: return "global_data";
	case Check4_19::externs: return "externs";
	}
	return "?";
}

bool on_4_19_path(const ObjectProgram &p)
{
	if (p.section.starts_with("kprobe/") || p.section.starts_with("kretprobe/"))
		return true;
	for (const auto *table : {&trace_programs(), &snapshot_programs()})
		for (const ProgramSpec &s : *table)
			if (s.name == p.name && (s.kind == ProgKind::kprobe || s.kind == ProgKind::kretprobe))
				return true;
	return false;
}

std::vector<Problem4_19> problems_on_4_19(const ObjectProgram &p)
{
	std::vector<Problem4_19> out;
	auto add = [&](Check4_19 c, const std::string &what) { out.push_back({c, p.section + " " + p.name + ": " + what}); };
	if (p.load_insns() > kMaxInsns4_19)
		add(Check4_19::insns, std::to_string(p.load_insns()) + " instructions at load (" +
					      std::to_string(p.subprog_insns) + " of them subprograms), more than 4.19's " +
					      std::to_string(kMaxInsns4_19));
	for (const BackEdge &e : p.back_edges)
		add(Check4_19::back_edge, "loop: back-edge from insn " + std::to_string(e.from) + " to " +
						  std::to_string(e.to) + (e.function == p.name ? "" : " of " + e.function));
	if (p.jmp32_insns)
		add(Check4_19::jmp32, count_of(p.jmp32_insns, "BPF_JMP32 instruction") + " (Linux 5.1+)");
	if (p.atomic_insns)
		add(Check4_19::atomics, count_of(p.atomic_insns, "atomic instruction") +
						" other than add without fetch (Linux 5.12+)");
	for (std::int32_t id : p.helpers) {
		const std::int32_t loaded = helper_after_libbpf_fallback(id);
		if (!kprobe_helper_in_4_19(loaded))
			add(Check4_19::helper, "helper " + std::to_string(id) + " (" + helper_name(id) + ") is not in 4.19");
	}
	for (const MapRef &m : p.maps)
		if (!map_type_in_4_19(m.type)) {
			const char *t = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(m.type));
			add(Check4_19::map_type, "map " + m.name + " of type " + std::to_string(m.type) + " (" +
							 (t ? t : "?") + ") is not in 4.19");
		}
	for (const SymbolRef &g : p.global_data)
		add(Check4_19::global_data, "global data " + g.section + " " + g.symbol + " (Linux 5.2+)");
	for (const SymbolRef &e : p.externs)
		add(Check4_19::externs, "extern " + e.symbol + " (a __kconfig/__ksym, not in 4.19)");
	return out;
}

void render_object_programs(std::ostream &out, const std::vector<ObjectProgram> &progs)
{
	std::size_t wsec = 7, wname = 7;
	for (const ObjectProgram &p : progs) {
		wsec = std::max(wsec, p.section.size());
		wname = std::max(wname, p.name.size());
	}
	auto pad = [](std::string s, std::size_t w) { return s.size() < w ? s + std::string(w - s.size(), ' ') : s; };
	auto list = [](const std::vector<std::string> &v) {
		std::string s;
		for (const auto &x : v)
			s += (s.empty() ? "" : ",") + x;
		return s.empty() ? std::string("-") : s;
	};
	out << pad("section", wsec) << "  " << pad("program", wname) << "  insns  loops  global data / helpers\n";
	for (const ObjectProgram &p : progs) {
		std::vector<std::string> data, helpers;
		for (const SymbolRef &g : p.global_data)
			data.push_back(g.symbol);
		for (std::int32_t id : p.helpers) {
			const std::int32_t loaded = helper_after_libbpf_fallback(id);
			std::string h = helper_name(id).substr(4);
			if (loaded != id)
				h += ">" + helper_name(loaded).substr(4);
			helpers.push_back(h + (kprobe_helper_in_4_19(loaded) ? "" : "!"));
		}
		std::string insns = std::to_string(p.insns);
		if (p.subprog_insns)
			insns += "+" + std::to_string(p.subprog_insns);
		out << pad(p.section, wsec) << "  " << pad(p.name, wname) << "  " << pad(insns, 5) << "  "
		    << pad(std::to_string(p.back_edges.size()), 5) << "  " << list(data) << " / " << list(helpers)
		    << "\n";
	}
	out << "(a>b: libbpf 1.1 calls b where the kernel lacks a; !: not a kprobe helper in 4.19)\n";
}

}  // namespace listenq
