// libFuzzer target: decoders of what the BPF programs write (iter/tcp
// listener records, ring buffer events). The kernel side is ours, but a
// mismatched object file must give an Error, not a crash.
#include <cstddef>
#include <cstdint>
#include <span>

#include "bpf/record_decode.h"
#include "bpf/trace_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	const std::span<const std::uint8_t> bytes(data, size);
	(void)listenq::decode_listener_records(bytes);
	(void)listenq::decode_event(bytes);
	return 0;
}
