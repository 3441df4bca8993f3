// arm64's syscall numbers are the generic table's
// (arch/arm64/include/uapi/asm/unistd.h includes asm-generic/unistd.h).
#include <gtest/gtest.h>

#include <asm-generic/unistd.h>
#include <listenq/syscall_nr.h>

TEST(SyscallNumbers, Arm64AreTheGenericUapiTable)
{
	EXPECT_EQ(LQ_NR_ARM64_LISTEN, __NR_listen);
	EXPECT_EQ(LQ_NR_ARM64_ACCEPT, __NR_accept);
	EXPECT_EQ(LQ_NR_ARM64_ACCEPT4, __NR_accept4);
}
