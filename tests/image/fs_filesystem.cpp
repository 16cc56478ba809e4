// Image test: a C++ program using std::filesystem on ramfs: create_directories,
// recursive_directory_iterator, rename, copy, remove_all, file_size, permissions, symlinks,
// last_write_time, space, and the error paths (exceptions and error_code overloads).
// Prints one line per failed check and exits with the number of failures.
#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <system_error>
#include <vector>

namespace fs = std::filesystem;

static int failures;
#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            std::cout << "FAIL " << __FILE__ << ":" << __LINE__ << ": " << #cond << std::endl;                         \
            ++failures;                                                                                                \
        }                                                                                                              \
    } while (0)

static void write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

static std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every path under `root`, relative to it, sorted.
static std::vector<std::string> tree(const fs::path& root) {
    std::vector<std::string> paths;
    for (const auto& entry : fs::recursive_directory_iterator(root))
        paths.push_back(entry.path().lexically_relative(root).string() + (entry.is_directory() ? "/" : ""));
    std::sort(paths.begin(), paths.end());
    return paths;
}

static void run() {
    const fs::path base = "/tmp/fs-test";
    CHECK(!fs::exists(base));
    CHECK(fs::create_directories(base / "a/b/c"));
    CHECK(!fs::create_directories(base / "a/b/c"));  // already there: false, no error
    CHECK(fs::is_directory(base / "a/b"));
    CHECK(fs::create_directory(base / "d"));

    write_file(base / "a/one.txt", "one");
    write_file(base / "a/b/two.txt", std::string(5000, 'x'));
    write_file(base / "a/b/c/three.txt", "three\n");
    fs::create_symlink("b/two.txt", base / "a/link");
    fs::create_directory_symlink("../a", base / "d/up");

    CHECK(fs::file_size(base / "a/one.txt") == 3);
    CHECK(fs::file_size(base / "a/b/two.txt") == 5000);
    CHECK(fs::file_size(base / "a/link") == 5000);  // follows the link
    CHECK(fs::is_symlink(fs::symlink_status(base / "a/link")));
    CHECK(fs::read_symlink(base / "a/link") == "b/two.txt");
    CHECK(fs::equivalent(base / "a/link", base / "a/b/two.txt"));
    CHECK(fs::canonical(base / "d/up/b/../one.txt") == base / "a/one.txt");

    std::vector<std::string> expected = {"a/",        "a/b/", "a/b/c/", "a/b/c/three.txt", "a/b/two.txt", "a/link",
                                         "a/one.txt", "d/",   "d/up/"};  // d/up: a link to a directory
    auto found = tree(base);
    CHECK(found == expected);
    if (found != expected)
        for (const auto& path : found) std::cout << "  found " << path << std::endl;
    // Following directory symlinks visits a/ again under d/up.
    size_t followed = 0;
    for (auto it = fs::recursive_directory_iterator(base, fs::directory_options::follow_directory_symlink);
         it != fs::recursive_directory_iterator(); ++it)
        ++followed;
    CHECK(followed == expected.size() + 6);

    // Permissions.
    fs::permissions(base / "a/one.txt", fs::perms::owner_read | fs::perms::group_read);
    CHECK((fs::status(base / "a/one.txt").permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::group_read));
    fs::permissions(base / "a/one.txt", fs::perms::owner_write, fs::perm_options::add);
    CHECK((fs::status(base / "a/one.txt").permissions() & fs::perms::owner_write) != fs::perms::none);
    fs::permissions(base / "a/one.txt", fs::perms::group_read, fs::perm_options::remove);
    CHECK((fs::status(base / "a/one.txt").permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));

    // Times.
    auto old_time = fs::file_time_type::clock::now() - std::chrono::hours(24);
    fs::last_write_time(base / "a/one.txt", old_time);
    auto stored = fs::last_write_time(base / "a/one.txt");
    CHECK(stored - old_time < std::chrono::seconds(1) && old_time - stored < std::chrono::seconds(1));

    // Rename: a file across directories, a directory, over an existing file.
    fs::rename(base / "a/b/c/three.txt", base / "d/three.txt");
    CHECK(!fs::exists(base / "a/b/c/three.txt") && read_file(base / "d/three.txt") == "three\n");
    fs::rename(base / "a/b/c", base / "d/c");
    CHECK(fs::is_directory(base / "d/c") && !fs::exists(base / "a/b/c"));
    write_file(base / "d/victim", "old");
    fs::rename(base / "d/three.txt", base / "d/victim");
    CHECK(read_file(base / "d/victim") == "three\n" && !fs::exists(base / "d/three.txt"));

    // Copy: a file, and a tree recursively.
    CHECK(fs::copy_file(base / "a/b/two.txt", base / "d/copy.txt"));
    CHECK(fs::file_size(base / "d/copy.txt") == 5000);
    CHECK(!fs::copy_file(base / "a/b/two.txt", base / "d/copy.txt", fs::copy_options::skip_existing));
    fs::copy(base / "a", base / "copied", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    CHECK(fs::is_symlink(fs::symlink_status(base / "copied/link")) && fs::file_size(base / "copied/b/two.txt") == 5000);

    // Errors: exceptions and the error_code overloads.
    std::error_code error;
    CHECK(fs::file_size(base / "missing", error) == static_cast<std::uintmax_t>(-1) &&
          error == std::errc::no_such_file_or_directory);
    CHECK(!fs::remove(base / "d", error) && error == std::errc::directory_not_empty);
    bool threw = false;
    try {
        fs::create_directory(base / "nope/deeper");
    } catch (const fs::filesystem_error& e) {
        threw = e.code() == std::errc::no_such_file_or_directory && e.path1() == base / "nope/deeper";
    }
    CHECK(threw);
    threw = false;
    try {
        (void)fs::file_size(base / "d");
    } catch (const fs::filesystem_error& e) {
        threw = e.code() == std::errc::is_a_directory;
    }
    CHECK(threw);

    // space() and the current directory.
    auto info = fs::space("/tmp");
    CHECK(info.capacity > 0 && info.available <= info.capacity);
    fs::current_path(base / "d");
    CHECK(fs::current_path() == base / "d" && fs::exists("c") && fs::absolute("c") == base / "d/c");
    fs::current_path("/");

    // remove_all: counts every entry, symlinks removed, not followed.
    std::uintmax_t removed_copy = fs::remove_all(base / "copied");
    CHECK(removed_copy == 5);  // copied, one.txt, link, b, b/two.txt
    CHECK(fs::exists(base / "a/b/two.txt"));
    std::uintmax_t removed = fs::remove_all(base);
    CHECK(removed == 11);
    CHECK(!fs::exists(base));
    CHECK(fs::remove_all(base) == 0);
}

int main() {
    try {
        run();
    } catch (const std::exception& e) {
        std::cout << "FAIL: unexpected exception: " << e.what() << std::endl;
        ++failures;
    }
    std::cout << failures << " failure(s)" << std::endl;
    return failures;
}
