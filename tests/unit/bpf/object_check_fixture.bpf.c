/* One of each thing src/bpf/object_check.cpp reads, for
 * tests/unit/bpf_object_check_test.cpp: a clean kprobe program, one with a
 * loop, one with a subprogram, global data, a ringbuf and helpers that 4.19
 * lacks. Self-contained: no kernel or libbpf headers. */
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

/* Helper IDs: include/uapi/linux/bpf.h */
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static __u32 (*bpf_get_prandom_u32)(void) = (void *)7;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;
static void *(*bpf_ringbuf_reserve)(void *rb, __u64 size, __u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, __u64 flags) = (void *)132;

struct {
	__uint(type, 27);	/* BPF_MAP_TYPE_RINGBUF */
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, 1);	/* BPF_MAP_TYPE_HASH */
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

const volatile __u32 cfg = 0;
__u64 hits = 0;

static __attribute__((noinline)) __u64 add_time(__u64 x)
{
	return x + bpf_ktime_get_ns();
}

SEC("kprobe/fixture_clean")
int fx_clean(void *ctx)
{
	__u32 k = 0;
	__u64 v = bpf_get_current_pid_tgid();

	bpf_map_update_elem(&counts, &k, &v, 0);
	return 0;
}

SEC("kprobe/fixture_loop")
int fx_loop(void *ctx)
{
	__u32 k = 0, n = bpf_get_prandom_u32() & 15;
	__u64 v = 0;

	for (__u32 i = 0; i < n; i++)
		v += bpf_get_prandom_u32();
	bpf_map_update_elem(&counts, &k, &v, 0);
	return 0;
}

SEC("kretprobe/fixture_modern")
int fx_modern(void *ctx)
{
	__u64 *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);

	if (!e)
		return 0;
	bpf_probe_read_kernel(e, sizeof(*e), ctx);
	*e += add_time(cfg) + hits;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
