#include "digest.h"

#include "image_error.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <unistd.h>

namespace xos::image {

namespace {

struct DigestContext {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
    DigestContext() {
        if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
            throw ImageError("sha256: cannot set up OpenSSL's digest");
    }
    void update(const void* data, size_t size) { EVP_DigestUpdate(ctx.get(), data, size); }
    std::string hex() {
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned size = 0;
        EVP_DigestFinal_ex(ctx.get(), out, &size);
        static constexpr char kHex[] = "0123456789abcdef";
        std::string text;
        for (unsigned i = 0; i < size; ++i) {
            text += kHex[out[i] >> 4];
            text += kHex[out[i] & 0xf];
        }
        return text;
    }
};

}  // namespace

std::string sha256_file_hex(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw ImageError(path + ": " + std::strerror(errno));
    DigestContext digest;
    char buffer[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int failure = errno;
            ::close(fd);
            throw ImageError(path + ": " + std::strerror(failure));
        }
        if (n == 0) break;
        digest.update(buffer, size_t(n));
    }
    ::close(fd);
    return digest.hex();
}

std::string sha256_hex(const std::string& bytes) {
    DigestContext digest;
    digest.update(bytes.data(), bytes.size());
    return digest.hex();
}

std::string sha256_of_digest(const std::string& digest) {
    constexpr std::string_view prefix = "sha256:";
    if (digest.rfind(prefix, 0) != 0)
        throw ImageError("unsupported digest '" + digest + "' (only sha256 is supported)");
    std::string hex = digest.substr(prefix.size());
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw ImageError("malformed digest '" + digest + "'");
    return hex;
}

}  // namespace xos::image
