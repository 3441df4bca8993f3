// RAII owners for libbpf objects. Declare links before the skeleton that
// owns their programs so that members tear down links first.
#pragma once

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <memory>

namespace listenq {

struct ObjectDeleter {
	void operator()(bpf_object *o) const { bpf_object__close(o); }
};
using ObjectPtr = std::unique_ptr<bpf_object, ObjectDeleter>;

struct LinkDeleter {
	void operator()(bpf_link *l) const { bpf_link__destroy(l); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

struct BtfDeleter {
	void operator()(btf *b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<btf, BtfDeleter>;

struct RingBufDeleter {
	void operator()(ring_buffer *rb) const { ring_buffer__free(rb); }
};
using RingBufPtr = std::unique_ptr<ring_buffer, RingBufDeleter>;

struct PerfBufDeleter {
	void operator()(perf_buffer *pb) const { perf_buffer__free(pb); }
};
using PerfBufPtr = std::unique_ptr<perf_buffer, PerfBufDeleter>;

// SkelPtr<snapshot_bpf, snapshot_bpf__destroy>
template <typename Skel, void (*Destroy)(Skel *)>
struct SkelDeleter {
	void operator()(Skel *s) const { Destroy(s); }
};
template <typename Skel, void (*Destroy)(Skel *)>
using SkelPtr = std::unique_ptr<Skel, SkelDeleter<Skel, Destroy>>;

}  // namespace listenq
