// A chunked body (RFC 9112 7.1) undone, for the tests and the benchmarks
// that read what `listenq export` streams. Header-only, like gunzip.h: the
// unit tests and listenq_bench use it without linking the test library.
// Strict: a size that is not hex, a chunk without its CRLF, or no last
// chunk is an error, so a body cut short is never taken for a whole one.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace listenq::testing {

// Walks the chunked body at the start of in: its length on the wire (up to
// the CRLF after the last chunk; the server sends no trailer fields), or
// nullopt while it is incomplete or if it is malformed. Each chunk's data
// is given to on_data.
template <typename OnData>
std::optional<std::size_t> walk_chunks(std::string_view in, OnData &&on_data)
{
	std::size_t at = 0;
	for (;;) {
		const std::size_t eol = in.find("\r\n", at);
		if (eol == std::string_view::npos || eol == at)
			return std::nullopt;
		std::size_t size = 0;
		for (char c : in.substr(at, eol - at)) {
			const int d = c >= '0' && c <= '9' ? c - '0'
				: c >= 'a' && c <= 'f'	   ? c - 'a' + 10
				: c >= 'A' && c <= 'F'	   ? c - 'A' + 10
							   : -1;
			if (d < 0 || size > (std::size_t{1} << 40))
				return std::nullopt;  // no extensions: the server sends none
			size = size * 16 + static_cast<std::size_t>(d);
		}
		at = eol + 2;
		if (size == 0)
			return in.substr(at, 2) == "\r\n" ? std::optional<std::size_t>(at + 2) : std::nullopt;
		if (in.size() < at + size + 2 || in.substr(at + size, 2) != "\r\n")
			return std::nullopt;
		on_data(in.substr(at, size));
		at += size + 2;
	}
}

// The data of a chunked body that is all of in, or nullopt. *chunks, when
// given, counts its chunks before the last (empty) one.
inline std::optional<std::string> dechunk(std::string_view in, std::size_t *chunks = nullptr)
{
	std::string out;
	std::size_t n = 0;
	const auto len = walk_chunks(in, [&](std::string_view data) {
		out.append(data);
		n++;
	});
	if (!len || *len != in.size())
		return std::nullopt;
	if (chunks)
		*chunks = n;
	return out;
}

}  // namespace listenq::testing
