// btap: compiles SystemTap scripts to BPF and runs them.
#include <iostream>
#include <string>
#include <vector>

#include "runtime/session.h"
#include "tools/btap/driver.h"

int main(int argc, char** argv) {
  btap::runtime::ReserveStandardDescriptors();
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  return btap::driver::Run(args, std::cin, std::cout, std::cerr);
}
