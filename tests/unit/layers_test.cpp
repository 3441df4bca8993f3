// The layers of src/ run one way (docs/architecture.md, "Layers"): a file
// includes only its own layer's headers and those of layers below it.
//   cli > tracing > bpf > plan, render > doctor, crossval > sources > model > util
// "listenq/abi.h" is the BPF programs' ABI (the records and map values they
// share with user space): any layer from bpf up.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

const std::map<std::string, int> kRank = {
	{"cli", 80},      {"tracing", 70}, {"bpf", 60},   {"plan", 50}, {"render", 50}, {"doctor", 45},
	{"crossval", 45}, {"sources", 40}, {"model", 20}, {"util", 10},
};

struct Include {
	std::string file, layer;
	int line;
};

// Every "layer/..." include of every file under src/<layer>/.
std::vector<std::pair<Include, std::string>> includes()
{
	std::vector<std::pair<Include, std::string>> out;
	const std::regex inc(R"re(^\s*#\s*include\s+"([a-z_]+)/)re");
	const std::filesystem::path src = std::filesystem::path(LQ_SOURCE_DIR) / "src";
	for (const auto &e : std::filesystem::recursive_directory_iterator(src)) {
		if (!e.is_regular_file())
			continue;
		const std::string ext = e.path().extension().string();
		if (ext != ".h" && ext != ".cpp")
			continue;
		const std::string rel = std::filesystem::relative(e.path(), src).string();
		const auto slash = rel.find('/');
		if (slash == std::string::npos)
			continue;  // main.cpp: above every layer
		std::ifstream f(e.path());
		std::string line;
		int n = 0;
		std::smatch m;
		while (std::getline(f, line)) {
			n++;
			if (std::regex_search(line, m, inc))
				out.push_back({{rel, rel.substr(0, slash), n}, m[1].str()});
		}
	}
	return out;
}

TEST(Layers, EveryDirectoryUnderSrcHasARank)
{
	const std::filesystem::path src = std::filesystem::path(LQ_SOURCE_DIR) / "src";
	for (const auto &e : std::filesystem::directory_iterator(src)) {
		if (e.is_directory()) {
			EXPECT_TRUE(kRank.count(e.path().filename().string()))
				<< "src/" << e.path().filename().string() << " is in no layer: add it to kRank and to docs/architecture.md";
		}
	}
}

TEST(Layers, IncludesRunDownwardOnly)
{
	const auto all = includes();
	ASSERT_GT(all.size(), 100u) << "no includes found under " << LQ_SOURCE_DIR << "/src";
	for (const auto &[from, to] : all) {
		if (to == "listenq") {
			EXPECT_GE(kRank.at(from.layer), kRank.at("bpf"))
				<< "src/" << from.file << ":" << from.line << " includes a generated BPF header below the bpf layer";
			continue;
		}
		ASSERT_TRUE(kRank.count(to)) << "src/" << from.file << ":" << from.line << " includes \"" << to << "/...\"";
		ASSERT_TRUE(kRank.count(from.layer)) << from.file;
		EXPECT_GE(kRank.at(from.layer), kRank.at(to))
			<< "src/" << from.file << ":" << from.line << ": " << from.layer << " includes " << to
			<< ", a layer above it";
	}
}

}  // namespace

namespace {

struct LongFunction {
	std::string where;  // file:line
	std::string signature;
	int lines;
	bool says_why;
};

// Functions defined at file scope in the house style (the signature from
// column 0, "{" and "}" alone on their lines), with their body's length
// and whether a "// Long:" line stands right above them (or above their
// template line).
std::vector<LongFunction> long_functions(int over)
{
	std::vector<LongFunction> out;
	const std::filesystem::path root(LQ_SOURCE_DIR);
	for (const char *dir : {"src", "bench"})
		for (const auto &e : std::filesystem::recursive_directory_iterator(root / dir)) {
			if (!e.is_regular_file() || e.path().extension() != ".cpp")
				continue;
			std::vector<std::string> l;
			std::ifstream f(e.path());
			for (std::string line; std::getline(f, line);)
				l.push_back(line);
			for (std::size_t i = 1; i < l.size(); i++) {
				if (l[i] != "{")
					continue;
				std::size_t start = i - 1;
				while (start > 0 && !l[start].empty() && (l[start][0] == '\t' || l[start][0] == ' '))
					start--;
				std::size_t end = i + 1;
				while (end < l.size() && l[end] != "}")
					end++;
				const int n = static_cast<int>(end - start);
				if (n > over) {
					std::size_t above = start;
					if (above > 0 && l[above - 1].rfind("template", 0) == 0)
						above--;
					const bool why = above > 0 && l[above - 1].rfind("// Long: ", 0) == 0;
					out.push_back({std::filesystem::relative(e.path(), root).string() + ":" + std::to_string(start + 1),
						       l[start].substr(0, 80), n, why});
				}
				i = end;
			}
		}
	return out;
}

}  // namespace

// STYLE: a function over ~60 lines is split, or says in one "// Long:"
// line above it why it is not.
TEST(Style, EveryFunctionOver60LinesSaysWhy)
{
	const auto fns = long_functions(60);
	EXPECT_GT(fns.size(), 0u) << "the scan found no function over 60 lines: is it reading the sources?";
	for (const LongFunction &f : fns)
		EXPECT_TRUE(f.says_why) << f.where << " " << f.signature << " is " << f.lines
					<< " lines, with no \"// Long: <why>\" line above it: split it or say why";
}

// The scan itself: with a low bound it finds a function known to be long
// (a scan that reads nothing would pass the test above).
TEST(Style, TheLongFunctionScanFindsFunctions)
{
	bool found = false;
	for (const LongFunction &f : long_functions(10))
		found |= f.signature.rfind("std::vector<PortGroup> PortAggregator::aggregate_groups", 0) == 0;
	EXPECT_TRUE(found) << "aggregate_groups (src/model/port_groups.cpp) not found by the scan";
}
