#include "container_image.h"

#include "from_image.h"
#include "image_error.h"
#include "signal_names.h"

#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

std::optional<std::string> container_image_description(const std::string& image) {
    std::string description = image + ".json";
    struct stat st;
    if (::stat(description.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    return description;
}

void apply_container_image(Options& opts, const std::string& description_path) {
    using namespace xos::image;
    if (!opts.rootfs.empty())
        throw UsageError("--rootfs does not go with a container image (" + opts.image + " brings its own root)");
    try {
        Description description = read_description(description_path);
        RunOverrides overrides;
        overrides.entrypoint = opts.entrypoint;
        if (!opts.app_args.empty()) overrides.cmd = opts.app_args;
        overrides.env = opts.env;
        overrides.working_dir = opts.workdir;
        overrides.user = opts.user;
        RunSpec spec = resolve_run(description.config, overrides);

        if ((opts.verbose || ::isatty(STDERR_FILENO)) && opts.forwards.empty())
            for (const auto& hint : image_hints(description.config))
                std::fprintf(stderr, "xos-run: note: %s\n", hint.c_str());

        opts.env = spec.env;
        opts.platform = description.platform;
        opts.container_kernel = description.kernel;
        // The image's EROFS file as the read-only root under a writable layer in memory
        // (--root-image: a read-only disk, shared by every VM started from it).
        opts.root_image = description.root_image;
        std::vector<std::string> loader_args{"--workdir", spec.working_dir, "--user",
                                             spec.user.empty() ? "0" : spec.user, "--"};
        loader_args.insert(loader_args.end(), spec.argv.begin(), spec.argv.end());
        opts.app_args = loader_args;
        // As `docker run` proxies signals: SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 to
        // xos-run reach the image's first process, SIGTERM as the image's StopSignal.
        opts.forward_signals = true;
        if (!description.config.stop_signal.empty()) {
            auto signo = tools::signal_from_name(description.config.stop_signal);
            if (!signo)
                throw UsageError("the image's StopSignal '" + description.config.stop_signal + "' is not a signal");
            opts.sigterm_becomes = *signo;
        }
    } catch (const ImageError& error) {
        throw UsageError(error.what());
    }
}
