// Prints, per BPF object, the programs old kernels would load as kprobes:
// instructions, loops, global data, helpers (libbpf's fallbacks shown), and
// which 4.19 checks each fails (src/bpf/object_check.h). A table, not a test:
// tests/integration/object_check_test.cpp compares the checks with 4.19's
// real verifier.
//
//   build/tests/object_table build/skel/*.bpf.o
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <string>

#include "object_check.h"

using namespace listenq;

int main(int argc, char **argv)
{
	if (argc < 2) {
		std::cerr << "usage: object_table OBJECT.bpf.o...\n";
		return 2;
	}
	int status = 0;
	for (int i = 1; i < argc; i++) {
		auto all = read_object_programs(argv[i]);
		if (!all) {
			std::cerr << "object_table: " << all.error().message << '\n';
			status = 1;
			continue;
		}
		std::vector<ObjectProgram> progs;
		for (const ObjectProgram &p : *all)
			if (on_4_19_path(p))
				progs.push_back(p);
		std::cout << argv[i] << ": " << progs.size() << " program" << (progs.size() == 1 ? "" : "s")
			  << " on the 4.19 path\n";
		if (progs.empty())
			continue;
		render_object_programs(std::cout, progs);
		std::map<std::string_view, std::set<std::string>> failing;  // check -> programs
		for (const ObjectProgram &p : progs)
			for (const Problem4_19 &pr : problems_on_4_19(p))
				failing[check_name(pr.check)].insert(p.name);
		for (const auto &[check, names] : failing) {
			std::cout << "  fails " << check << " (" << names.size() << "):";
			for (const auto &n : names)
				std::cout << " " << n;
			std::cout << "\n";
		}
	}
	return status;
}
