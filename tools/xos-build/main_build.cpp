#include "programs.h"

int main(int argc, char** argv) { return xos::driver::build_main(argc, argv); }
