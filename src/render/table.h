// Aligned text columns: numbers right, text left, one space apart.
#pragma once

#include <cstddef>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace listenq {

class TextTable {
public:
	enum class Align { left, right };
	struct Column {
		std::string header;
		Align align = Align::left;
	};

	explicit TextTable(std::vector<Column> cols) : cols_(std::move(cols)) {}
	void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
	// The last column is never padded (no trailing blanks).
	void print(std::ostream &os) const;
	// The same for n rows made on demand by row_at, twice (the widths, then
	// the lines) instead of held: a 50k-listener watch frame.
	void print(std::ostream &os, std::size_t n,
		   const std::function<std::vector<std::string>(std::size_t)> &row_at) const;

private:
	std::vector<Column> cols_;
	std::vector<std::vector<std::string>> rows_;
};

// Writes "prefix word word ..." folded at 79 columns; continuation lines
// are indented by the prefix's width.
void print_folded(std::ostream &os, const std::string &prefix, const std::string &text);

// "1 listener", "0 listeners", "2 listeners", "2 passes": n and the noun,
// plural unless n is 1.
std::string count_of(std::size_t n, const std::string &noun);

}  // namespace listenq
