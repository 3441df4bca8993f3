#include "util/terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

namespace listenq {

int terminal_width(int fd)
{
	winsize w{};
	if (!::isatty(fd) || ::ioctl(fd, TIOCGWINSZ, &w) != 0 || w.ws_col == 0)
		return -1;
	return w.ws_col;
}

}  // namespace listenq
