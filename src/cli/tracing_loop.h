// The tracer's loop, shared by watch, trace, hist, export and demo.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>

#include "tracing/tracer.h"
#include "cli/options.h"
#include "render/trace_render.h"
#include "util/result.h"

namespace listenq {

// SIGINT/SIGTERM/SIGHUP end the loop (stop_requested()); the Tracer's
// destructor detaches.
void install_stop_handlers();
bool stop_requested();

// --ringbuf-kb, else 4096 KiB for trace (it prints events) and 256 for
// the commands that show none.
std::uint32_t ringbuf_kb_for(const Options &o);
Result<std::unique_ptr<Tracer>> start_tracer(const Options &o, Tracer::EventFn on_event);
TraceHeader header_of(const Tracer &t, const Options &o);
// The filters: -4/-6, --port, --pid, --netns.
bool wanted(const Options &o, const Listener &id, std::uint32_t pid);

// Polls events and samples every sample_ms until tick returns false or a
// stop signal. tick runs at least every 50 ms, and at once when wake_fd
// (if >= 0) becomes readable.
Result<void> run_loop(Tracer &t, std::uint32_t sample_ms, const std::function<bool(std::uint64_t now)> &tick,
		      int wake_fd = -1);

// watch's frames until --count or a signal; after_frame(seq) runs after
// each frame is written.
Result<void> watch_loop(const Options &o, Tracer &t, std::ostream &out,
			const std::function<void(std::uint64_t seq)> &after_frame = nullptr);

}  // namespace listenq
