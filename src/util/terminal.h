#pragma once

namespace listenq {

// Columns of the terminal on fd, or -1 when fd is not a terminal.
int terminal_width(int fd);

}  // namespace listenq
