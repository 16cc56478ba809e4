#include "programs.h"

int main(int argc, char** argv) { return xos::driver::compiler_wrapper_main(argc, argv, xos::driver::Language::C); }
