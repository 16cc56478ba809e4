// xos-image: looks into a container image without building anything (tests and debugging).
//
//   xos-image unpack SOURCE DIR    apply SOURCE's layers into DIR (created; must be empty)
//   xos-image inspect SOURCE       print the format, digests and run-time config as JSON
//
// SOURCE is an OCI layout directory, an OCI archive or a docker-archive (docs/container-images.md).
#include "from_image.h"
#include "image_error.h"
#include "image_source.h"

#include <cstdio>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace {

int usage() {
    std::fputs("usage: xos-image unpack SOURCE DIR\n       xos-image inspect SOURCE\n", stderr);
    return 2;
}

std::string temp_parent() {
    const char* tmp = std::getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

}  // namespace

int main(int argc, char** argv) {
    using namespace xos::image;
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.size() == 3 && args[0] == "unpack") {
            std::error_code error;
            std::filesystem::create_directories(args[2], error);
            if (!std::filesystem::is_empty(args[2], error) || error)
                throw ImageError(args[2] + ": not an empty directory");
            ImageSource image(args[1], temp_parent());
            unpack_layers(image, args[2], false);
            return 0;
        }
        if (args.size() == 2 && args[0] == "inspect") {
            ImageSource image(args[1], temp_parent());
            nlohmann::json out{{"format", format_name(image.format())},
                               {"config_digest", image.config_digest()},
                               {"layers", image.layer_digests()},
                               {"config", config_to_json(image.config())}};
            std::printf("%s\n", out.dump(2).c_str());
            return 0;
        }
        return usage();
    } catch (const ImageError& e) {
        std::fprintf(stderr, "xos-image: error: %s\n", e.what());
        return 1;
    }
}
