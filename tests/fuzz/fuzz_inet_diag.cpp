// libFuzzer target: the inet_diag (NETLINK_SOCK_DIAG) reply decoder, fed
// whole recv() buffers as the kernel would hand them over.
#include <cstddef>
#include <cstdint>
#include <span>

#include "sources/inet_diag.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	if (auto r = listenq::decode_diag_batch(std::span<const std::uint8_t>(data, size)))
		if (r->listeners.size() != r->has_meminfo.size())
			__builtin_trap();  // index-aligned by contract
	return 0;
}
