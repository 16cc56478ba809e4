// hello: the smallest real C++ program, booted as a VM. It exercises what every C++ server
// needs from the image: iostream, std::string, static constructors, exceptions across frames,
// and argv/environment.
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

int parse_positive(const std::string& text) {
    int value = std::stoi(text);  // throws std::invalid_argument on garbage
    if (value <= 0) throw std::out_of_range("not positive: " + text);
    return value;
}

int checked_parse(const std::string& text) {
    return parse_positive(text);  // the exception unwinds through this frame
}

}  // namespace

int main(int argc, char** argv) {
    std::cout << greeter.greeting << "!" << std::endl;

    std::vector<std::string> args(argv + 1, argv + argc);
    std::cout << "argv[0] = " << argv[0] << ", " << args.size() << " argument(s):";
    for (const auto& arg : args) std::cout << " [" << arg << "]";
    std::cout << '\n';

    try {
        checked_parse("not a number");
        std::cout << "no exception?!\n";
        return 1;
    } catch (const std::invalid_argument& e) {
        std::cout << "caught std::invalid_argument from std::stoi, as expected\n";
    }
    try {
        checked_parse("-3");
        return 1;
    } catch (const std::out_of_range& e) {
        std::cout << "caught std::out_of_range: " << e.what() << '\n';
    }

    if (const char* who = std::getenv("XOS_GREET")) std::cout << "XOS_GREET=" << who << '\n';
    return 0;
}
