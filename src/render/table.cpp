#include "render/table.h"

#include <algorithm>
#include <sstream>

namespace listenq {

void TextTable::print(std::ostream &os) const
{
	print(os, rows_.size(), [&](std::size_t i) { return rows_[i]; });
}

void TextTable::print(std::ostream &os, std::size_t n,
		      const std::function<std::vector<std::string>(std::size_t)> &row_at) const
{
	std::vector<std::size_t> width(cols_.size());
	for (std::size_t c = 0; c < cols_.size(); c++)
		width[c] = cols_[c].header.size();
	for (std::size_t i = 0; i < n; i++) {
		const std::vector<std::string> r = row_at(i);
		for (std::size_t c = 0; c < cols_.size() && c < r.size(); c++)
			width[c] = std::max(width[c], r[c].size());
	}
	// Few writes (a snapshot of 50k listeners is 50k lines), through a
	// bounded buffer (watch keeps no table of rows: cells are made per line).
	constexpr std::size_t kFlush = 64 * 1024;
	std::string out;
	out.reserve(kFlush + 1024);
	const std::string empty;
	auto flush = [&] {
		os.write(out.data(), static_cast<std::streamsize>(out.size()));
		out.clear();
	};
	auto line = [&](auto cell_at) {
		const std::size_t start = out.size();
		for (std::size_t c = 0; c < cols_.size(); c++) {
			const std::string &cell = cell_at(c);
			const std::size_t pad = width[c] - std::min(width[c], cell.size());
			if (c)
				out += ' ';
			if (cols_[c].align == Align::right)
				out.append(pad, ' ').append(cell);
			else if (c + 1 == cols_.size())
				out += cell;
			else
				out.append(cell).append(pad, ' ');
		}
		while (out.size() > start && out.back() == ' ')
			out.pop_back();
		out += '\n';
		if (out.size() >= kFlush)
			flush();
	};
	line([&](std::size_t c) -> const std::string & { return cols_[c].header; });
	for (std::size_t i = 0; i < n; i++) {
		const std::vector<std::string> r = row_at(i);
		line([&](std::size_t c) -> const std::string & { return c < r.size() ? r[c] : empty; });
	}
	flush();
}

std::string count_of(std::size_t n, const std::string &noun)
{
	const bool es = !noun.empty() && noun.back() == 's';  // "passes"
	return std::to_string(n) + ' ' + noun + (n == 1 ? "" : es ? "es" : "s");
}

void print_folded(std::ostream &os, const std::string &prefix, const std::string &text)
{
	std::string line = prefix;
	std::istringstream words(text);
	for (std::string w; words >> w;) {
		if (line.size() + 1 + w.size() > 79 && line.size() > prefix.size()) {
			os << line << '\n';
			line = std::string(prefix.size(), ' ');
		}
		line += ' ' + w;
	}
	os << line << '\n';
}

}  // namespace listenq
