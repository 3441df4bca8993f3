#include "bpf/iter_image.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "util/files.h"

namespace listenq {

namespace {

constexpr char kMagic[8] = {'L', 'Q', 'I', 'T', 'E', 'R', '0', '1'};
constexpr const char *kDefaultDir = "/run/listenq";
constexpr std::size_t kMaxInsns = 1000000;

struct Header {
	char magic[8];
	std::uint32_t attach_btf_id;
	std::uint32_t rodata_size;
	std::uint32_t no_cookie_helper;
	std::uint32_t insn_cnt;
	std::uint32_t map_ref_cnt;
	std::uint32_t pad;
};

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 14695981039346656037ULL)
{
	for (unsigned char c : s) {
		h ^= c;
		h *= 1099511628211ULL;
	}
	return h;
}

bool is_ld_imm64(const bpf_insn &i) { return i.code == (BPF_LD | BPF_IMM | BPF_DW); }

// Owned by this user, not writable by group or others.
bool trusted(const struct stat &st) { return st.st_uid == ::geteuid() && !(st.st_mode & (S_IWGRP | S_IWOTH)); }

}  // namespace

std::string encode_iter_image(const IterImage &img)
{
	Header h{};
	std::memcpy(h.magic, kMagic, sizeof(kMagic));
	h.attach_btf_id = img.attach_btf_id;
	h.rodata_size = img.rodata_size;
	h.no_cookie_helper = img.no_cookie_helper;
	h.insn_cnt = static_cast<std::uint32_t>(img.insns.size());
	h.map_ref_cnt = static_cast<std::uint32_t>(img.map_refs.size());
	std::string out(reinterpret_cast<const char *>(&h), sizeof(h));
	out.append(reinterpret_cast<const char *>(img.insns.data()), img.insns.size() * sizeof(bpf_insn));
	out.append(reinterpret_cast<const char *>(img.map_refs.data()), img.map_refs.size() * sizeof(std::uint32_t));
	return out;
}

std::optional<IterImage> decode_iter_image(std::string_view bytes)
{
	Header h;
	if (bytes.size() < sizeof(h))
		return std::nullopt;
	std::memcpy(&h, bytes.data(), sizeof(h));
	if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) || !h.insn_cnt || h.insn_cnt > kMaxInsns ||
	    h.map_ref_cnt > h.insn_cnt || !h.attach_btf_id || !h.rodata_size || h.no_cookie_helper > 1)
		return std::nullopt;
	const std::size_t want = sizeof(h) + h.insn_cnt * sizeof(bpf_insn) + h.map_ref_cnt * sizeof(std::uint32_t);
	if (bytes.size() != want)
		return std::nullopt;
	IterImage img;
	img.attach_btf_id = h.attach_btf_id;
	img.rodata_size = h.rodata_size;
	img.no_cookie_helper = h.no_cookie_helper;
	img.insns.resize(h.insn_cnt);
	img.map_refs.resize(h.map_ref_cnt);
	const char *p = bytes.data() + sizeof(h);
	std::memcpy(img.insns.data(), p, h.insn_cnt * sizeof(bpf_insn));
	std::memcpy(img.map_refs.data(), p + h.insn_cnt * sizeof(bpf_insn), h.map_ref_cnt * sizeof(std::uint32_t));
	for (std::uint32_t r : img.map_refs)  // each the first half of an ld_imm64
		if (r + 1 >= img.insns.size() || !is_ld_imm64(img.insns[r]))
			return std::nullopt;
	return img;
}

std::optional<std::string> gnu_build_id(std::string_view notes)
{
	// Elf64_Nhdr: namesz, descsz, type; name and desc each padded to 4.
	std::size_t off = 0;
	auto pad4 = [](std::size_t n) { return (n + 3) & ~std::size_t{3}; };
	while (off + 12 <= notes.size()) {
		std::uint32_t namesz, descsz, type;
		std::memcpy(&namesz, notes.data() + off, 4);
		std::memcpy(&descsz, notes.data() + off + 4, 4);
		std::memcpy(&type, notes.data() + off + 8, 4);
		const std::size_t name_at = off + 12, desc_at = name_at + pad4(namesz);
		if (desc_at + descsz > notes.size() || desc_at < name_at)
			return std::nullopt;
		if (type == 3 /* NT_GNU_BUILD_ID */ && namesz == 4 && notes.substr(name_at, 4) == std::string_view("GNU\0", 4) &&
		    descsz > 0) {
			std::string hex;
			char b[3];
			for (std::size_t i = 0; i < descsz; i++) {
				std::snprintf(b, sizeof(b), "%02x", static_cast<unsigned char>(notes[desc_at + i]));
				hex += b;
			}
			return hex;
		}
		off = desc_at + pad4(descsz);
	}
	return std::nullopt;
}

std::string iter_image_path(std::string_view object_elf)
{
	const char *env = std::getenv("LISTENQ_CACHE_DIR");
	const std::string dir = env ? env : kDefaultDir;
	if (dir.empty())
		return "";
	auto notes = read_file("/sys/kernel/notes");
	if (!notes)
		return "";
	auto id = gnu_build_id(*notes);
	if (!id)
		return "";
	char ver[32];
	std::snprintf(ver, sizeof(ver), "libbpf %u.%u", libbpf_major_version(), libbpf_minor_version());
	char name[64];
	std::snprintf(name, sizeof(name), "-%016llx.iter",
		      static_cast<unsigned long long>(fnv1a(ver, fnv1a(object_elf))));
	return dir + "/" + *id + name;
}

std::optional<IterImage> read_iter_image(const std::string &path)
{
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
	struct stat st;
	if (!fd.valid() || ::fstat(fd.get(), &st) || !S_ISREG(st.st_mode) || !trusted(st) ||
	    st.st_size > static_cast<off_t>(sizeof(Header) + kMaxInsns * 12))
		return std::nullopt;
	std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
	if (::read(fd.get(), bytes.data(), bytes.size()) != st.st_size)
		return std::nullopt;
	return decode_iter_image(bytes);
}

Result<void> write_iter_image(const std::string &path, const IterImage &img)
{
	const std::string dir = path.substr(0, path.rfind('/'));
	if (::mkdir(dir.c_str(), 0700) && errno != EEXIST)
		return Error::from_errno(errno, "create " + dir);
	struct stat st;
	if (::lstat(dir.c_str(), &st) || !S_ISDIR(st.st_mode) || !trusted(st))
		return Error{EPERM, dir + ": not a directory this user alone can write"};
	std::string tmp = path + ".XXXXXX";
	UniqueFd fd(::mkstemp(tmp.data()));
	if (!fd.valid())
		return Error::from_errno(errno, "create " + tmp);
	const std::string bytes = encode_iter_image(img);
	const bool ok = ::write(fd.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) &&
			::fchmod(fd.get(), 0600) == 0;
	if (!ok || ::rename(tmp.c_str(), path.c_str())) {
		const int err = errno;
		::unlink(tmp.c_str());
		return Error::from_errno(err, "write " + path);
	}
	return {};
}

Result<LoadedIter> load_iter_image(const IterImage &img, const void *rodata)
{
	LoadedIter out;
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_RDONLY_PROG);
	out.rodata = UniqueFd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "snapshot.rodat", 4, img.rodata_size, 1, &mo));
	if (!out.rodata.valid())
		return Error::from_errno(errno, "create the .rodata map");
	const std::uint32_t zero = 0;
	if (bpf_map_update_elem(out.rodata.get(), &zero, rodata, BPF_ANY) || bpf_map_freeze(out.rodata.get()))
		return Error::from_errno(errno, "fill the .rodata map");
	std::vector<bpf_insn> insns = img.insns;
	for (std::uint32_t r : img.map_refs)
		insns[r].imm = out.rodata.get();
	LIBBPF_OPTS(bpf_prog_load_opts, po, .expected_attach_type = BPF_TRACE_ITER, .attach_btf_id = img.attach_btf_id);
	out.prog = UniqueFd(bpf_prog_load(BPF_PROG_TYPE_TRACING, "dump_listeners", "GPL", insns.data(), insns.size(), &po));
	if (!out.prog.valid())
		return Error::from_errno(errno, "load the cached iter/tcp image");
	out.link = UniqueFd(bpf_link_create(out.prog.get(), 0, BPF_TRACE_ITER, nullptr));
	if (!out.link.valid())
		return Error::from_errno(errno, "attach the cached iter/tcp image");
	return out;
}

}  // namespace listenq
