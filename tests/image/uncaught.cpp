// An exception that escapes main: std::terminate, abort(), SIGABRT -> status 134.
#include <stdexcept>

[[noreturn]] static void fail() { throw std::runtime_error("nobody catches this"); }

int main() { fail(); }
