#include "bpf/trace_object.h"

#include <bpf/bpf.h>

#include "bpf/libbpf_raii.h"
#include "listenq/abi.h"
#include "trace.skel.h"
#include "trace_legacy.skel.h"

namespace listenq {

struct TraceObject::Impl {
	SkelPtr<trace_bpf, trace_bpf__destroy> modern;
	SkelPtr<trace_legacy_bpf, trace_legacy_bpf__destroy> old;
	lq_settings settings{};  // legacy: what its lq_settings map holds
	// Before 5.5 global data maps cannot be mmapped (BPF_F_MMAPABLE): the
	// skeleton then leaves bss null, and .bss is written with a map update
	// of this copy (only user space writes it).
	trace_bpf::trace_bpf__bss bss_copy{};

	// Changes .bss: in place where it is mapped, else through the syscall.
	template <typename F>
	void set_bss(F change)
	{
		if (modern->bss) {
			change(*modern->bss);
			return;
		}
		change(bss_copy);
		const std::uint32_t zero = 0;
		bpf_map_update_elem(bpf_map__fd(modern->maps.bss), &zero, &bss_copy, BPF_ANY);
	}

	void write_settings()
	{
		const std::uint32_t zero = 0;
		if (old)
			bpf_map_update_elem(bpf_map__fd(old->maps.lq_settings), &zero, &settings, BPF_ANY);
	}
};

TraceObject::TraceObject(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TraceObject::TraceObject(TraceObject &&) noexcept = default;
TraceObject &TraceObject::operator=(TraceObject &&) noexcept = default;
TraceObject::~TraceObject() = default;

Result<TraceObject> TraceObject::open(const std::string &btf_path, bool legacy)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	if (!btf_path.empty())
		oo.btf_custom_path = btf_path.c_str();
	auto impl = std::make_unique<Impl>();
	if (legacy)
		impl->old.reset(trace_legacy_bpf__open_opts(&oo));
	else
		impl->modern.reset(trace_bpf__open_opts(&oo));
	if (!impl->old && !impl->modern)
		return Error::from_errno(errno, std::string("open BPF object ") + (legacy ? "trace_legacy_bpf" : "trace_bpf"));
	return TraceObject(std::move(impl));
}

bpf_object *TraceObject::obj() const { return impl_->modern ? impl_->modern->obj : impl_->old->obj; }
bpf_map *TraceObject::map(const char *name) const { return bpf_object__find_map_by_name(obj(), name); }
bool TraceObject::legacy() const { return impl_->old != nullptr; }
const char *TraceObject::name() const { return legacy() ? "trace_legacy_bpf" : "trace_bpf"; }

Result<void> TraceObject::configure(std::uint32_t lq_config, std::uint32_t walk_tgid)
{
	if (impl_->modern) {
		impl_->modern->rodata->lq_config = lq_config;
		impl_->modern->rodata->walk_tgid = walk_tgid;
		return {};
	}
	constexpr std::uint32_t compiled = LQ_CFG_PERF_BUFFER | LQ_CFG_NO_SK_STORAGE | LQ_CFG_PTR_KEYS;
	if (lq_config != compiled)
		return Error{EINVAL, "trace_legacy_bpf: settings " + std::to_string(lq_config) + " asked, " +
					     std::to_string(compiled) + " compiled in"};
	impl_->settings.walk_tgid = walk_tgid;
	return {};
}

int TraceObject::load()
{
	if (impl_->modern)
		return trace_bpf__load(impl_->modern.get());
	int err = trace_legacy_bpf__load(impl_->old.get());
	if (!err)
		impl_->write_settings();
	return err;
}

void TraceObject::set_exact_mask(std::uint32_t mask)
{
	if (impl_->modern) {
		impl_->set_bss([&](auto &b) { b.exact_mask = mask; });
		return;
	}
	impl_->settings.exact_mask = mask;
	impl_->write_settings();
}

void TraceObject::next_sample_pass()
{
	if (impl_->modern) {
		impl_->set_bss([](auto &b) { b.sample_pass++; });
		return;
	}
	impl_->settings.sample_pass++;
	impl_->write_settings();
}

std::uint32_t TraceObject::next_sample_tick()
{
	if (!impl_->modern)
		return 0;
	std::uint32_t tick = 0;
	impl_->set_bss([&](auto &b) { tick = ++b.sample_tick; });
	return tick;
}

void TraceObject::next_interval()
{
	if (impl_->modern) {
		impl_->set_bss([](auto &b) { b.interval_epoch++; });
		return;
	}
	impl_->settings.interval_epoch++;
	impl_->write_settings();
}

}  // namespace listenq
