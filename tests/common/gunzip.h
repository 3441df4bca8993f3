// gzip (RFC 1952) undone, for the tests and the benchmarks that check what
// `listenq export` sent with Content-Encoding: gzip. Header-only: the unit
// tests and listenq_bench use it without linking the test library.
#pragma once

#include <zlib.h>

#include <optional>
#include <string>
#include <string_view>

namespace listenq::testing {

// nullopt when z is not one whole gzip stream.
inline std::optional<std::string> gunzip(std::string_view z)
{
	z_stream zs{};
	if (inflateInit2(&zs, 15 + 16) != Z_OK)
		return std::nullopt;
	std::string out;
	char buf[1 << 16];
	zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(z.data()));
	zs.avail_in = static_cast<uInt>(z.size());
	int rc;
	do {
		zs.next_out = reinterpret_cast<Bytef *>(buf);
		zs.avail_out = sizeof(buf);
		rc = inflate(&zs, Z_NO_FLUSH);
		out.append(buf, sizeof(buf) - zs.avail_out);
	} while (rc == Z_OK);
	inflateEnd(&zs);
	if (rc != Z_STREAM_END)
		return std::nullopt;
	return out;
}

}  // namespace listenq::testing
