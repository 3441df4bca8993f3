// The iter/tcp snapshot program as libbpf relocated and the kernel
// verified it, kept per kernel build so that later runs load it with one
// bpf(BPF_PROG_LOAD): no vmlinux BTF parse (126k types), no CO-RE pass.
// bench/RESULTS.md "Snapshot" has what that saves.
//
// Where: $LISTENQ_CACHE_DIR, else /run/listenq (tmpfs: gone at reboot,
// and a new kernel means a reboot). The name holds the kernel's GNU build
// id (/sys/kernel/notes) and a hash of the BPF object and libbpf version,
// so a new kernel or a new listenq never reads an old image. Only files
// this user owns and nobody else can write are read; a directory that
// cannot be made or written only costs the saving.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"
#include "util/unique_fd.h"

namespace listenq {

struct IterImage {
	std::uint32_t attach_btf_id = 0;      // vmlinux BTF id of bpf_iter_tcp
	std::uint32_t rodata_size = 0;        // .rodata value size (its datasec)
	bool no_cookie_helper = false;        // the variant that loaded (snapshot.bpf.c)
	std::vector<bpf_insn> insns;          // final: CO-RE applied, map fds in place
	std::vector<std::uint32_t> map_refs;  // ld_imm64 insns that take the .rodata fd
};

// Pure: the file format (a fixed header, then the arrays) and its parser.
std::string encode_iter_image(const IterImage &img);
std::optional<IterImage> decode_iter_image(std::string_view bytes);
// The GNU build id (hex) in an ELF note section such as /sys/kernel/notes.
std::optional<std::string> gnu_build_id(std::string_view notes);

// The image file for this kernel and this object, or "" when there is no
// cache (no build id, or LISTENQ_CACHE_DIR set empty).
std::string iter_image_path(std::string_view object_elf);

std::optional<IterImage> read_iter_image(const std::string &path);
// Best effort: a failure leaves no file and is not an error for the caller.
Result<void> write_iter_image(const std::string &path, const IterImage &img);

// What load_iter_image() made: the iterator link is what a read needs.
struct LoadedIter {
	UniqueFd rodata, prog, link;
};
// The .rodata value bytes (the skeleton's struct, value_size long) go in a
// frozen read-only map; then the program loads against it.
Result<LoadedIter> load_iter_image(const IterImage &img, const void *rodata);

}  // namespace listenq
