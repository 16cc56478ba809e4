// hello: the smallest real C++ program, booted as a VM. It exercises what every C++ server
// needs from the image: iostream, std::string, static constructors, an exception that unwinds
// across frames, and argv/environment.
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Greeter {
    std::string greeting;
    Greeter() : greeting("Hello from xos") {}  // runs before main: static constructors work
};
Greeter greeter;

[[gnu::noinline]] int parse_positive(const std::string& text) {
    int value = std::atoi(text.c_str());
    if (value <= 0) throw std::out_of_range("not a positive number: " + text);
    return value;
}

[[gnu::noinline]] int checked_parse(const std::string& text) {
    return parse_positive(text) * 2;  // the exception unwinds through this frame
}

}  // namespace

int main(int argc, char** argv) {
    std::cout << greeter.greeting << "!\n";

    std::vector<std::string> args(argv + 1, argv + argc);
    std::cout << "argv[0] = " << argv[0] << ", " << args.size() << " argument(s):";
    for (const auto& arg : args) std::cout << " [" << arg << "]";
    std::cout << '\n';

    try {
        checked_parse("-3");
        std::cout << "no exception?!\n";
        return 1;
    } catch (const std::out_of_range& e) {
        std::cout << "caught std::out_of_range across frames: " << e.what() << '\n';
    }

    if (const char* who = std::getenv("XOS_GREET")) std::cout << "XOS_GREET=" << who << '\n';
    return 0;
}
