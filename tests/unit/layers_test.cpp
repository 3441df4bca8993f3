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
