// One opened trace object: trace.bpf.o, or trace_legacy.bpf.o where the
// kernel has no global data (before 5.2): the same programs and maps, its
// settings in a map (struct lq_settings) and its load-time settings
// compiled in. TraceProgram reaches both through this.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>
#include <string>

#include "util/result.h"

namespace listenq {

class TraceObject {
public:
	// Opened, not loaded. btf_path: a BTF file for CO-RE ("" : the kernel's).
	static Result<TraceObject> open(const std::string &btf_path, bool legacy);
	TraceObject(TraceObject &&) noexcept;
	TraceObject &operator=(TraceObject &&) noexcept;
	~TraceObject();

	bpf_object *obj() const;
	bpf_map *map(const char *name) const;  // nullptr when the object has none
	bool legacy() const;
	const char *name() const;  // "trace_bpf", "trace_legacy_bpf"

	// Before load: enum lq_config (legacy: compiled in, so it must be the
	// compiled value) and the process whose /proc reads are walk passes.
	Result<void> configure(std::uint32_t lq_config, std::uint32_t walk_tgid);
	int load();  // 0, or a negative errno

	// After load.
	void set_exact_mask(std::uint32_t mask);
	void next_sample_pass();
	void next_interval();
	// One more sample (the busy pass's tick): the new tick. Legacy: 0.
	std::uint32_t next_sample_tick();

private:
	struct Impl;
	explicit TraceObject(std::unique_ptr<Impl> impl);
	std::unique_ptr<Impl> impl_;
};

}  // namespace listenq
