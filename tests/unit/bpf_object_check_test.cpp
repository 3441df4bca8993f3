// Linux 4.19: the kprobe tier, with the perf buffer, is what kernels
// without tp_btf, ringbuf or global data run, so its programs must pass
// 4.19's verifier: at most 4096 instructions, no loops, only 4.19's kprobe
// helpers (after libbpf's probe_read fallback) and map types, no global
// data. Read from the built objects without loading them
// (src/bpf/object_check.h); each failure names the program.
//
// The objects checked are LQ_BPF_4_19_OBJECTS (tests/CMakeLists.txt): a
// legacy build variant for old kernels goes there. The table for a note:
//   listenq_unit --gtest_filter='ObjectCheck4_19.PrintsTheKprobeTable'
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "object_check.h"
#include "plan/facts.h"
#include "render/table.h"

using namespace listenq;

namespace {

// "a.bpf.o,b.bpf.o" (CMake would split a ';' list into two definitions).
std::vector<std::string> split_list(std::string_view list)
{
	std::vector<std::string> out;
	for (std::size_t at = 0; at <= list.size();) {
		std::size_t comma = std::min(list.find(',', at), list.size());
		if (comma > at)
			out.emplace_back(list.substr(at, comma - at));
		at = comma + 1;
	}
	return out;
}

const std::vector<std::string> &objects_4_19()
{
	static const std::vector<std::string> v = split_list(LQ_BPF_4_19_OBJECTS);
	return v;
}

// Each object is read once.
const Result<std::vector<ObjectProgram>> &read_cached(const std::string &path)
{
	static std::map<std::string, Result<std::vector<ObjectProgram>>> cache;
	auto it = cache.find(path);
	if (it == cache.end())
		it = cache.emplace(path, read_object_programs(path)).first;
	return it->second;
}

std::vector<ObjectProgram> on_path(const std::vector<ObjectProgram> &all)
{
	std::vector<ObjectProgram> out;
	std::copy_if(all.begin(), all.end(), std::back_inserter(out), on_4_19_path);
	return out;
}

std::string base_name(const std::string &path) { return path.substr(path.rfind('/') + 1); }

// "trace_bpf_o"; with the index when two objects share a name.
std::string test_name(const ::testing::TestParamInfo<std::string> &info)
{
	std::string base = base_name(info.param);
	const auto &all = objects_4_19();
	if (std::count_if(all.begin(), all.end(), [&](const std::string &p) { return base_name(p) == base; }) > 1)
		base += "_" + std::to_string(info.index);
	std::replace_if(base.begin(), base.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
	return base;
}

// What an object's kprobe programs still need beyond 4.19, by design and
// said in README "Kernels". walk.bpf.o and trace_legacy.bpf.o (what old
// kernels load): nothing. trace.bpf.o (5.2 and later): global data, and the
// ringbuf helpers and map that its rodata setting prunes when events go to
// the perf buffer (which the verifier does once rodata is frozen: 5.2).
// Anything else is a failure.
bool known_gap(const std::string &object, const Problem4_19 &pr)
{
	if (base_name(object) != "trace.bpf.o")
		return false;
	if (pr.check == Check4_19::global_data)
		return true;
	return (pr.check == Check4_19::helper || pr.check == Check4_19::map_type) &&
	       pr.message.find("ringbuf") != std::string::npos;
}

class Fits4_19 : public ::testing::TestWithParam<std::string> {
protected:
	// No program on the path has a problem of these kinds.
	void expect_none(std::initializer_list<Check4_19> checks)
	{
		const auto &r = read_cached(GetParam());
		ASSERT_TRUE(r) << r.error().message;
		std::string lines;
		std::size_t n = 0;
		for (const ObjectProgram &p : on_path(*r))
			for (const Problem4_19 &pr : problems_on_4_19(p))
				if (std::find(checks.begin(), checks.end(), pr.check) != checks.end() &&
				    !known_gap(GetParam(), pr)) {
					lines += "  " + pr.message + "\n";
					n++;
				}
		EXPECT_EQ(n, 0u) << GetParam() << ":\n" << lines;
	}
};

TEST_P(Fits4_19, AtMost4096InstructionsEach) { expect_none({Check4_19::insns}); }
TEST_P(Fits4_19, NoLoops) { expect_none({Check4_19::back_edge}); }
TEST_P(Fits4_19, NoJmp32OrNewAtomics) { expect_none({Check4_19::jmp32, Check4_19::atomics}); }
TEST_P(Fits4_19, OnlyKprobeHelpersOf4_19) { expect_none({Check4_19::helper}); }
TEST_P(Fits4_19, OnlyMapTypesOf4_19) { expect_none({Check4_19::map_type}); }
TEST_P(Fits4_19, NoGlobalDataOrExterns) { expect_none({Check4_19::global_data, Check4_19::externs}); }

// What old kernels load fits 4.19 with no gap at all: the snapshot's walk,
// and the tracer's legacy build (its settings in a map).
TEST(ObjectCheck4_19, TheOldKernelObjectsFitWhole)
{
	const auto &all = objects_4_19();
	for (const auto &want : {std::pair{"walk.bpf.o", 2u}, std::pair{"trace_legacy.bpf.o", 15u}}) {
		const std::string object = want.first;
		const std::size_t programs = want.second;
		auto it = std::find_if(all.begin(), all.end(), [&](const std::string &p) { return base_name(p) == object; });
		ASSERT_NE(it, all.end()) << object << " is not in " << LQ_BPF_4_19_OBJECTS;
		const auto &r = read_cached(*it);
		ASSERT_TRUE(r) << r.error().message;
		const auto progs = on_path(*r);
		EXPECT_EQ(progs.size(), programs) << object << ": its kprobe programs";
		for (const ObjectProgram &p : progs)
			for (const Problem4_19 &pr : problems_on_4_19(p))
				ADD_FAILURE() << object << ": " << pr.message;
	}
}

INSTANTIATE_TEST_SUITE_P(Built, Fits4_19, ::testing::ValuesIn(objects_4_19()), test_name);

TEST(ObjectCheck4_19, ObjectsHoldEveryKprobeProgramOfTheTable)
{
	std::set<std::string> found;
	for (const std::string &path : objects_4_19()) {
		const auto &r = read_cached(path);
		ASSERT_TRUE(r) << r.error().message;
		for (const ObjectProgram &p : on_path(*r))
			found.insert(p.name);
	}
	EXPECT_FALSE(found.empty()) << "no kprobe program in " << LQ_BPF_4_19_OBJECTS;
	for (const ProgramSpec &s : trace_programs()) {
		if (s.kind == ProgKind::kprobe || s.kind == ProgKind::kretprobe) {
			EXPECT_TRUE(found.count(std::string(s.name)))
				<< s.section() << " " << s.name << " is in no object of " << LQ_BPF_4_19_OBJECTS;
		}
	}
}

// ---- The reader and the rules, on a fixture built from
// tests/unit/bpf/object_check_fixture.bpf.c ----

const ObjectProgram *find(const std::vector<ObjectProgram> &v, std::string_view name)
{
	auto it = std::find_if(v.begin(), v.end(), [&](const ObjectProgram &p) { return p.name == name; });
	return it == v.end() ? nullptr : &*it;
}

std::vector<std::string> messages(const ObjectProgram &p, Check4_19 c)
{
	std::vector<std::string> out;
	for (const Problem4_19 &pr : problems_on_4_19(p))
		if (pr.check == c)
			out.push_back(pr.message);
	return out;
}

TEST(ObjectCheck, ReadsTheFixtureAsBuilt)
{
	auto r = read_object_programs(LQ_OBJECT_CHECK_FIXTURE);
	ASSERT_TRUE(r) << r.error().message;
	ASSERT_EQ(r->size(), 3u);
	const ObjectProgram *clean = find(*r, "fx_clean"), *loop = find(*r, "fx_loop"), *modern = find(*r, "fx_modern");
	ASSERT_TRUE(clean && loop && modern);

	EXPECT_EQ(clean->section, "kprobe/fixture_clean");
	EXPECT_GT(clean->insns, 0u);
	EXPECT_EQ(clean->helpers, (std::set<std::int32_t>{2, 14}));
	ASSERT_EQ(clean->maps.size(), 1u);
	EXPECT_EQ(clean->maps[0].name, "counts");
	EXPECT_EQ(clean->maps[0].type, 1u);
	EXPECT_TRUE(clean->back_edges.empty());
	EXPECT_TRUE(clean->global_data.empty());
	EXPECT_TRUE(clean->subprogs.empty());
	for (const Problem4_19 &pr : problems_on_4_19(*clean))
		ADD_FAILURE() << pr.message;

	ASSERT_EQ(loop->back_edges.size(), 1u);
	EXPECT_EQ(loop->back_edges[0].function, "fx_loop");
	EXPECT_LE(loop->back_edges[0].to, loop->back_edges[0].from);
	EXPECT_EQ(messages(*loop, Check4_19::back_edge).size(), 1u);

	// add_time() is a subprogram: its instructions and its helper count.
	EXPECT_EQ(modern->section, "kretprobe/fixture_modern");
	EXPECT_EQ(modern->subprogs, std::vector<std::string>{"add_time"});
	EXPECT_GT(modern->subprog_insns, 0u);
	EXPECT_EQ(modern->load_insns(), modern->insns + modern->subprog_insns);
	EXPECT_EQ(modern->helpers, (std::set<std::int32_t>{5, 113, 131, 132}));
	std::set<std::string> data;
	for (const SymbolRef &g : modern->global_data)
		data.insert(g.section + " " + g.symbol);
	EXPECT_EQ(data, (std::set<std::string>{".rodata cfg", ".bss hits"}));
	EXPECT_EQ(messages(*modern, Check4_19::helper),
		  (std::vector<std::string>{
			  "kretprobe/fixture_modern fx_modern: helper 131 (bpf_ringbuf_reserve) is not in 4.19",
			  "kretprobe/fixture_modern fx_modern: helper 132 (bpf_ringbuf_submit) is not in 4.19"}));
	EXPECT_EQ(messages(*modern, Check4_19::map_type),
		  std::vector<std::string>{"kretprobe/fixture_modern fx_modern: map rb of type 27 (ringbuf) is not in 4.19"});
	EXPECT_EQ(messages(*modern, Check4_19::global_data).size(), 2u);
}

TEST(ObjectCheck, MissingObjectIsAnErrorNamingIt)
{
	auto r = read_object_programs("/nonexistent/x.bpf.o");
	ASSERT_FALSE(r);
	EXPECT_NE(r.error().message.find("/nonexistent/x.bpf.o"), std::string::npos) << r.error().message;
}

TEST(ObjectCheck, LibbpfFallsBackToProbeReadOnly)
{
	EXPECT_EQ(helper_after_libbpf_fallback(113), 4);  // probe_read_kernel
	EXPECT_EQ(helper_after_libbpf_fallback(112), 4);  // probe_read_user
	EXPECT_EQ(helper_after_libbpf_fallback(115), 45);  // probe_read_kernel_str
	EXPECT_EQ(helper_after_libbpf_fallback(114), 45);  // probe_read_user_str
	for (std::int32_t id : {1, 4, 45, 46, 130, 131, 132})
		EXPECT_EQ(helper_after_libbpf_fallback(id), id);
}

TEST(ObjectCheck, KprobeHelpersOf4_19)
{
	for (std::int32_t id : {1, 2, 3, 4, 5, 6, 7, 8, 12, 14, 15, 16, 22, 25, 27, 35, 36, 37, 42, 45, 55, 67, 80})
		EXPECT_TRUE(kprobe_helper_in_4_19(id)) << helper_name(id);
	// get_socket_cookie exists but not for kprobes; override_return only
	// with CONFIG_BPF_KPROBE_OVERRIDE; the rest came later.
	for (std::int32_t id : {0, 46, 58, 84, 107, 112, 113, 130, 131, 132})
		EXPECT_FALSE(kprobe_helper_in_4_19(id)) << helper_name(id);
	EXPECT_EQ(helper_name(131), "bpf_ringbuf_reserve");
	EXPECT_EQ(helper_name(113), "bpf_probe_read_kernel");
	EXPECT_EQ(helper_name(100000), "helper#100000");
	EXPECT_TRUE(map_type_in_4_19(4));    // perf_event_array
	EXPECT_TRUE(map_type_in_4_19(20));   // reuseport_sockarray
	EXPECT_FALSE(map_type_in_4_19(24));  // sk_storage
	EXPECT_FALSE(map_type_in_4_19(27));  // ringbuf
}

TEST(ObjectCheck, ProblemsNameTheProgramAndWhatIsWrong)
{
	ObjectProgram p;
	p.name = "kp_big";
	p.section = "kprobe/tcp4_seq_show";
	p.insns = 4090;
	p.subprogs = {"helper_fn"};
	p.subprog_insns = 10;
	p.jmp32_insns = 2;
	p.atomic_insns = 1;
	p.externs = {{"", "LINUX_KERNEL_VERSION"}};
	const auto pr = problems_on_4_19(p);
	std::vector<std::string> got;
	for (const Problem4_19 &x : pr)
		got.push_back(x.message);
	EXPECT_EQ(got, (std::vector<std::string>{
			       "kprobe/tcp4_seq_show kp_big: 4100 instructions at load (10 of them subprograms), more "
			       "than 4.19's 4096",
			       "kprobe/tcp4_seq_show kp_big: 2 BPF_JMP32 instructions (Linux 5.1+)",
			       "kprobe/tcp4_seq_show kp_big: 1 atomic instruction other than add without fetch (Linux "
			       "5.12+)",
			       "kprobe/tcp4_seq_show kp_big: extern LINUX_KERNEL_VERSION (a __kconfig/__ksym, not in 4.19)",
		       }));
	p.subprog_insns = 6;
	p.jmp32_insns = p.atomic_insns = 0;
	p.externs.clear();
	EXPECT_TRUE(problems_on_4_19(p).empty()) << problems_on_4_19(p)[0].message;
}

}  // namespace
