// The static 4.19 check (src/bpf/object_check.h) against the real verifier:
// on a 4.19 kernel, each kprobe and kretprobe program of listenq's objects
// is loaded alone. Every program the check says fits must load, and every
// one it rejects must be refused. Elsewhere it has nothing to compare with.
#include <gtest/gtest.h>
#include <bpf/libbpf.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>

#include "object_check.h"
#include "listenq/abi.h"
#include "trace.skel.h"
#include "trace_legacy.skel.h"
#include "walk.skel.h"

using namespace listenq;

namespace {

struct Object {
	const char *name;
	const void *(*bytes)(size_t *);
};

const Object kObjects[] = {{"walk.bpf.o", walk_bpf__elf_bytes},
			   {"trace_legacy.bpf.o", trace_legacy_bpf__elf_bytes},
			   {"trace.bpf.o", trace_bpf__elf_bytes}};

int quiet(enum libbpf_print_level, const char *, va_list) { return 0; }

// Loads one program of the object alone; "" when it loaded, else why not.
std::string load_alone(const void *bytes, size_t size, const std::string &program)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	const char *btf = std::getenv("LISTENQ_BTF");
	if (btf && *btf)
		oo.btf_custom_path = btf;
	std::unique_ptr<bpf_object, void (*)(bpf_object *)> obj(bpf_object__open_mem(bytes, size, &oo), bpf_object__close);
	if (!obj)
		return std::string("open: ") + std::strerror(errno);
	bpf_program *p;
	bpf_object__for_each_program(p, obj.get()) bpf_program__set_autoload(p, program == bpf_program__name(p));
	// Map kinds 4.19 lacks become placeholders, as listenq's loader makes
	// them (src/bpf/trace_program.cpp): the ring buffer a 1-slot array, the
	// sk_storage maps 1-entry hashes (the legacy object's code never uses
	// them).
	bpf_map *m;
	bpf_object__for_each_map(m, obj.get())
	{
		if (map_type_in_4_19(bpf_map__type(m)))
			continue;
		if (bpf_map__type(m) == BPF_MAP_TYPE_RINGBUF) {
			bpf_map__set_type(m, BPF_MAP_TYPE_ARRAY);
			bpf_map__set_key_size(m, 4);
			bpf_map__set_value_size(m, 4);
		} else {
			bpf_map__set_type(m, BPF_MAP_TYPE_HASH);
			bpf_map__set_map_flags(m, BPF_F_NO_PREALLOC);
		}
		bpf_map__set_max_entries(m, 1);
	}
	const int err = bpf_object__load(obj.get());
	return err ? std::string("load: ") + std::strerror(-err) : "";
}

TEST(RealVerifier4_19, StaticCheckAgreesWithTheVerifier)
{
	struct utsname u;
	ASSERT_EQ(uname(&u), 0);
	if (std::strncmp(u.release, "4.19.", 5) != 0)
		GTEST_SKIP() << "not a 4.19 kernel (" << u.release << "): the static check models 4.19's verifier";
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root";
	libbpf_print_fn_t old = libbpf_set_print(quiet);
	int compared = 0;
	for (const Object &o : kObjects) {
		size_t size = 0;
		const void *bytes = o.bytes(&size);
		// The reader takes a path: the object as the build made it.
		char path[] = "/tmp/lq_object_XXXXXX";
		const int fd = mkstemp(path);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(write(fd, bytes, size), static_cast<ssize_t>(size));
		close(fd);
		auto progs = read_object_programs(path);
		unlink(path);
		ASSERT_TRUE(progs) << progs.error().message;
		for (const ObjectProgram &p : *progs) {
			if (!on_4_19_path(p))
				continue;
			const auto problems = problems_on_4_19(p);
			const std::string refused = load_alone(bytes, size, p.name);
			compared++;
			if (problems.empty()) {
				EXPECT_EQ(refused, "") << o.name << " " << p.section << " " << p.name
						       << ": the static check says it fits 4.19; the verifier refused it";
			} else {
				EXPECT_NE(refused, "") << o.name << " " << p.section << " " << p.name << ": the static check says "
						       << problems.front().message << "; the verifier loaded it";
			}
			std::cout << "[ measured ] " << o.name << " " << p.name << ": static "
				  << (problems.empty() ? "fits" : "rejects") << ", verifier "
				  << (refused.empty() ? "loads" : refused) << "\n";
		}
	}
	libbpf_set_print(old);
	EXPECT_GT(compared, 20) << "the kprobe programs of walk, trace_legacy and trace";
}

}  // namespace
