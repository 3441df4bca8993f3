#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"

int main(int argc, char **argv)
{
	return listenq::run_listenq(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
