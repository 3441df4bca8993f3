// libFuzzer target: decoders of what the BPF programs write (iter/tcp
// listener records, ring buffer events). The kernel side is ours, but a
// mismatched object file must give an Error, not a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "bpf/record_decode.h"
#include "bpf/trace_decode.h"
#include "listenq/abi.h"
#include "render/prom_render.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::span<const std::uint8_t> bytes(data, size);
	(void)listenq::decode_listener_records(bytes);
	(void)listenq::decode_event(bytes);
	// A listener map entry of any bytes (comm included) must render as an
	// exposition Prometheus accepts: valid UTF-8 throughout.
	if (size >= sizeof(lq_listener_key) + sizeof(lq_listener_state)) {
		lq_listener_key key;
		lq_listener_state st;
		std::memcpy(&key, data, sizeof(key));
		std::memcpy(&st, data + sizeof(key), sizeof(st));
		listenq::ExportScrape s;
		s.listeners.push_back(listenq::listener_stat_from(key, st));
		if (!listenq::is_valid_utf8(listenq::render_prometheus(s)))
			std::abort();
	}
	return 0;
}
