// libFuzzer target: the HTTP server's request side (cli/http_server.h):
// framing a head in the bytes a connection has read, parsing it, and
// Accept-Encoding. Any input must give a frame, and a request or nullopt,
// never a crash or a sanitizer report. Seeds: heads that Prometheus 2.42
// and curl 7.88 sent (tests/fuzz/corpus/http).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cli/http_server.h"

namespace {

// What the server relies on in a frame: it lies within the input and the
// limit, it ends with the blank line's '\n', and the head is in front of it.
void check_frame(std::string_view in, std::size_t max_head)
{
	const listenq::HeadFrame f = listenq::frame_http_head(in, max_head);
	switch (f.status) {
	case listenq::HeadFrame::complete:
		if (f.consumed == 0 || f.consumed > max_head || f.consumed > in.size() || in[f.consumed - 1] != '\n' ||
		    f.head.data() < in.data() || f.head.data() + f.head.size() > in.data() + f.consumed)
			__builtin_trap();
		(void)listenq::parse_http_request(f.head);
		break;
	case listenq::HeadFrame::too_large:
		if (in.size() < max_head)
			__builtin_trap();  // more bytes could still have completed it
		break;
	case listenq::HeadFrame::incomplete:
		if (in.size() >= max_head)
			__builtin_trap();  // the server would read on without a bound
		break;
	}
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::string_view in(reinterpret_cast<const char *>(data), size);
	check_frame(in, 8192);  // the exporter's limit
	check_frame(in, 64);    // a limit the fuzzer's inputs cross
	if (auto r = listenq::parse_http_request(in))
		if (r->method.empty() || r->path.empty() || r->path[0] != '/')
			__builtin_trap();
	(void)listenq::accepts_gzip(in);
	return 0;
}
