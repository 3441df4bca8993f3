#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "sources/proc_owners.h"

using namespace listenq;
namespace fs = std::filesystem;

namespace {

TEST(ProcOwners, ParseSocketLink)
{
	EXPECT_EQ(parse_socket_link("socket:[12345]"), 12345u);
	EXPECT_EQ(parse_socket_link("socket:[0]"), 0u);
	EXPECT_EQ(parse_socket_link("socket:[]"), 0u);
	EXPECT_EQ(parse_socket_link("socket:[12x]"), 0u);
	EXPECT_EQ(parse_socket_link("pipe:[12345]"), 0u);
	EXPECT_EQ(parse_socket_link("/dev/null"), 0u);
	EXPECT_EQ(parse_socket_link("socket:[123"), 0u);
}

// A fake /proc: two processes share inode 555 (fork after listen).
TEST(ProcOwners, ScansFakeProcTree)
{
	const fs::path root = fs::path(::testing::TempDir()) / ("fakeproc" + std::to_string(::getpid()));
	fs::remove_all(root);
	auto proc = [&](int pid, const char *comm, std::vector<std::pair<int, std::string>> fds) {
		fs::create_directories(root / std::to_string(pid) / "fd");
		std::ofstream(root / std::to_string(pid) / "comm") << comm << '\n';
		for (auto &[fd, target] : fds)
			fs::create_symlink(target, root / std::to_string(pid) / "fd" / std::to_string(fd));
	};
	proc(812, "nginx", {{6, "socket:[555]"}, {7, "socket:[556]"}, {1, "/dev/null"}});
	proc(813, "nginx", {{6, "socket:[555]"}});
	proc(900, "sshd", {{3, "socket:[777]"}});
	fs::create_directories(root / "self");  // non-numeric entries are skipped

	std::vector<Listener> ls(3);
	ls[0].inode = 555;
	ls[1].inode = 777;
	ls[2].inode = 999;  // nobody holds it
	attach_owners(ls, root.string());
	ASSERT_EQ(ls[0].processes.size(), 2u);
	EXPECT_EQ(ls[0].processes[0], (ProcessRef{812, 6, "nginx"}));
	EXPECT_EQ(ls[0].processes[1], (ProcessRef{813, 6, "nginx"}));
	ASSERT_EQ(ls[1].processes.size(), 1u);
	EXPECT_EQ(ls[1].processes[0], (ProcessRef{900, 3, "sshd"}));
	EXPECT_TRUE(ls[2].processes.empty());
	fs::remove_all(root);
}

TEST(ProcOwners, MissingProcRootIsEmptyNotACrash)
{
	std::vector<Listener> ls(1);
	ls[0].inode = 1;
	attach_owners(ls, "/nonexistent-proc-root");
	EXPECT_TRUE(ls[0].processes.empty());
}

}  // namespace
