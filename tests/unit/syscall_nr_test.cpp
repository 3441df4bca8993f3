// The syscall numbers the BPF programs test (include/listenq/syscall_nr.h)
// against the kernel's uapi tables as Debian's linux-libc-dev ships them:
// x86_64's here, arm64's (the generic table) in syscall_nr_generic_test.cpp,
// apart because both headers define __NR_listen.
#include <gtest/gtest.h>

#include <listenq/syscall_nr.h>

#if defined(__x86_64__)
#include <asm/unistd_64.h>

TEST(SyscallNumbers, X86_64AreTheUapiTables)
{
	EXPECT_EQ(LQ_NR_X86_64_LISTEN, __NR_listen);
	EXPECT_EQ(LQ_NR_X86_64_ACCEPT, __NR_accept);
	EXPECT_EQ(LQ_NR_X86_64_ACCEPT4, __NR_accept4);
}
#endif
