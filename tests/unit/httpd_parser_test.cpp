// Host unit tests of apps/httpd's portable parts: the request parser, path resolution, the MIME
// table and response heads.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "http_parser.h"
#include "mime.h"
#include "response.h"

using namespace httpd;

namespace {

ParseResult parse(std::string_view text, Request& request, const Limits& limits = {}) {
    return parse_request(text, request, limits);
}

TEST(HttpParser, SimpleGet) {
    Request r;
    std::string text = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n";
    ParseResult result = parse(text, r);
    ASSERT_EQ(result.status, ParseStatus::Complete);
    EXPECT_EQ(result.consumed, text.size());
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/index.html");
    EXPECT_EQ(r.version_minor, 1);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_EQ(r.host, "example.com");
    ASSERT_EQ(r.headers.size(), 2u);
    ASSERT_NE(r.find("user-agent"), nullptr);
    EXPECT_EQ(r.find("USER-AGENT")->value, "t");
    EXPECT_EQ(r.find("accept"), nullptr);
}

TEST(HttpParser, BareLfAndOws) {
    Request r;
    std::string text = "HEAD / HTTP/1.1\nHost:   a  \nX-Empty:\n\n";
    ParseResult result = parse(text, r);
    ASSERT_EQ(result.status, ParseStatus::Complete);
    EXPECT_EQ(result.consumed, text.size());
    EXPECT_EQ(r.host, "a");
    EXPECT_EQ(r.find("x-empty")->value, "");
}

TEST(HttpParser, PipelinedConsumesOnlyFirst) {
    Request r;
    std::string first = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    std::string text = first + "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    ParseResult result = parse(text, r);
    ASSERT_EQ(result.status, ParseStatus::Complete);
    EXPECT_EQ(result.consumed, first.size());
    EXPECT_EQ(r.target, "/a");
    result = parse(std::string_view(text).substr(first.size()), r);
    ASSERT_EQ(result.status, ParseStatus::Complete);
    EXPECT_EQ(r.target, "/b");
}

TEST(HttpParser, IncompleteAtEveryPrefix) {
    std::string text = "GET /split/path HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n";
    for (std::size_t n = 0; n < text.size(); ++n) {
        Request r;
        EXPECT_EQ(parse(std::string_view(text).substr(0, n), r).status, ParseStatus::Incomplete) << n;
    }
    Request r;
    EXPECT_EQ(parse(text, r).status, ParseStatus::Complete);
}

TEST(HttpParser, LeadingEmptyLinesSkipped) {
    Request r;
    ParseResult result = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", r);
    ASSERT_EQ(result.status, ParseStatus::Complete);
    EXPECT_EQ(r.target, "/");
    EXPECT_EQ(parse("\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", r).status, ParseStatus::Error);
}

TEST(HttpParser, KeepAliveRules) {
    Request r;
    ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", r).status, ParseStatus::Complete);
    EXPECT_FALSE(r.keep_alive);
    ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n", r).status,
              ParseStatus::Complete);
    EXPECT_FALSE(r.keep_alive);
    ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", r).status, ParseStatus::Complete);  // no Host needed in 1.0
    EXPECT_EQ(r.version_minor, 0);
    EXPECT_FALSE(r.keep_alive);
    ASSERT_EQ(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", r).status, ParseStatus::Complete);
    EXPECT_TRUE(r.keep_alive);
    ASSERT_EQ(parse("GET / HTTP/1.9\r\nHost: h\r\n\r\n", r).status, ParseStatus::Complete);
    EXPECT_EQ(r.version_minor, 1);
}

TEST(HttpParser, ContentLength) {
    Request r;
    ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n", r).status, ParseStatus::Complete);
    EXPECT_TRUE(r.has_content_length);
    EXPECT_EQ(r.content_length, 42u);
    ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", r).status,
              ParseStatus::Complete);
    EXPECT_EQ(r.content_length, 5u);
    ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", r).status,
              ParseStatus::Complete);
    EXPECT_TRUE(r.chunked);
}

struct Malformed {
    const char* text;
    int status;
};

class HttpParserMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(HttpParserMalformed, Rejected) {
    Request r;
    ParseResult result = parse(GetParam().text, r);
    ASSERT_EQ(result.status, ParseStatus::Error) << GetParam().text;
    EXPECT_EQ(result.error_status, GetParam().status) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HttpParserMalformed,
    ::testing::Values(Malformed{"GARBAGE\r\n\r\n", 400}, Malformed{"GET /\r\n\r\n", 400},
                      Malformed{"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},  // double space
                      Malformed{"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},  // trailing space
                      Malformed{"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},  // not a token
                      Malformed{"GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},  // control in target
                      Malformed{"GET / HTTQ/1.1\r\nHost: h\r\n\r\n", 400},
                      Malformed{"GET / HTTP/1.1x\r\nHost: h\r\n\r\n", 400},
                      Malformed{"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
                      Malformed{"GET / HTTP/1.1\r\n\r\n", 400},  // no Host in 1.1
                      Malformed{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
                      Malformed{"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400},
                      Malformed{"GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", 400},
                      Malformed{"GET / HTTP/1.1\r\nHost: h\r\nName : x\r\n\r\n", 400},
                      Malformed{"GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", 400},
                      Malformed{"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n", 400},
                      Malformed{"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400},  // stray CR
                      Malformed{"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", 400},
                      Malformed{"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
                      Malformed{"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", 400},
                      Malformed{"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
                      Malformed{"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
                      Malformed{"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                                400}));

TEST(HttpParser, NulInHeaderRejected) {
    Request r;
    const char raw[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    std::string text(raw, sizeof raw - 1);
    ParseResult result = parse(text, r);
    ASSERT_EQ(result.status, ParseStatus::Error);
    EXPECT_EQ(result.error_status, 400);
}

TEST(HttpParser, Limits) {
    Limits limits;
    limits.max_request_line = 64;
    limits.max_header_line = 64;
    limits.max_head_size = 256;
    limits.max_headers = 4;
    Request r;
    // A request line over the limit: an error as soon as it is certain, complete or not.
    std::string long_target = "GET /" + std::string(100, 'a');
    EXPECT_EQ(parse(long_target, r, limits).error_status, 414);
    EXPECT_EQ(parse(long_target + " HTTP/1.1\r\nHost: h\r\n\r\n", r, limits).error_status, 414);
    std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";
    EXPECT_EQ(parse(head + "X: " + std::string(100, 'v'), r, limits).error_status, 431);
    EXPECT_EQ(parse(head + "X: " + std::string(100, 'v') + "\r\n\r\n", r, limits).error_status, 431);
    std::string many = head;
    for (int i = 0; i < 4; ++i) many += "X" + std::to_string(i) + ": y\r\n";
    EXPECT_EQ(parse(many + "\r\n", r, limits).error_status, 431);
    limits.max_headers = 100;
    std::string big = head;
    for (int i = 0; i < 5; ++i) big += "X" + std::to_string(i) + ": " + std::string(50, 'z') + "\r\n";
    EXPECT_EQ(parse(big + "\r\n", r, limits).error_status, 431);
    // Exactly at the limits is fine.
    std::string fits = "GET /" + std::string(64 - 14, 'b') + " HTTP/1.1";
    ASSERT_EQ(fits.size(), 64u);
    EXPECT_EQ(parse(fits + "\r\nHost: h\r\n\r\n", r, limits).status, ParseStatus::Complete);
}

TEST(HttpParser, DefaultLimitsBoundIncompleteInput) {
    Request r;
    std::string endless = "GET / HTTP/1.1\r\nHost: h\r\n";
    while (endless.size() < 40000) endless += "X-Filler: " + std::string(100, 'f') + "\r\n";
    ParseResult result = parse(endless, r);
    ASSERT_EQ(result.status, ParseStatus::Error);
    EXPECT_EQ(result.error_status, 431);
}

TEST(PercentDecode, Basics) {
    std::string out;
    EXPECT_TRUE(percent_decode("/a%20b%2Fc%2e", out));
    EXPECT_EQ(out, "/a b/c.");
    EXPECT_TRUE(percent_decode("plain+text", out));
    EXPECT_EQ(out, "plain+text");  // '+' is not a space in a path
    EXPECT_FALSE(percent_decode("%", out));
    EXPECT_FALSE(percent_decode("%4", out));
    EXPECT_FALSE(percent_decode("%zz", out));
    EXPECT_FALSE(percent_decode("a%00b", out));
}

struct TargetCase {
    const char* target;
    PathStatus status;
    const char* relative;
    bool trailing_slash;
};

class ResolveTarget : public ::testing::TestWithParam<TargetCase> {};

TEST_P(ResolveTarget, Resolves) {
    const TargetCase& c = GetParam();
    std::string relative;
    bool trailing = false;
    ASSERT_EQ(resolve_target(c.target, relative, trailing), c.status) << c.target;
    if (c.status == PathStatus::Ok) {
        EXPECT_EQ(relative, c.relative) << c.target;
        EXPECT_EQ(trailing, c.trailing_slash) << c.target;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ResolveTarget,
    ::testing::Values(
        TargetCase{"/", PathStatus::Ok, "", true}, TargetCase{"/index.html", PathStatus::Ok, "index.html", false},
        TargetCase{"/docs/", PathStatus::Ok, "docs", true}, TargetCase{"/docs", PathStatus::Ok, "docs", false},
        TargetCase{"//a///b/./c", PathStatus::Ok, "a/b/c", false}, TargetCase{"/a/.", PathStatus::Ok, "a", true},
        TargetCase{"/with%20space.txt?x=1#frag", PathStatus::Ok, "with space.txt", false},
        TargetCase{"/q?../../etc/passwd", PathStatus::Ok, "q", false},
        TargetCase{"http://example.com/a/b", PathStatus::Ok, "a/b", false},
        TargetCase{"HTTP://example.com", PathStatus::Ok, "", true}, TargetCase{"/..", PathStatus::Forbidden, "", false},
        TargetCase{"/../etc/passwd", PathStatus::Forbidden, "", false},
        TargetCase{"/a/../../etc/passwd", PathStatus::Forbidden, "", false},
        TargetCase{"/%2e%2e/etc/passwd", PathStatus::Forbidden, "", false},
        TargetCase{"/%2E%2E%2Fetc%2Fpasswd", PathStatus::Forbidden, "", false},
        TargetCase{"/a/%2e./b", PathStatus::Forbidden, "", false},
        TargetCase{"/..%2f..%2fetc", PathStatus::Forbidden, "", false},
        TargetCase{"*", PathStatus::BadRequest, "", false}, TargetCase{"index.html", PathStatus::BadRequest, "", false},
        TargetCase{"/bad%zz", PathStatus::BadRequest, "", false},
        TargetCase{"/nul%00byte", PathStatus::BadRequest, "", false}));

TEST(Mime, Table) {
    EXPECT_EQ(mime_type("/www/index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(mime_type("a.CSS"), "text/css; charset=utf-8");
    EXPECT_EQ(mime_type("x/app.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(mime_type("d.json"), "application/json");
    EXPECT_EQ(mime_type("i.png"), "image/png");
    EXPECT_EQ(mime_type("i.jpg"), "image/jpeg");
    EXPECT_EQ(mime_type("i.jpeg"), "image/jpeg");
    EXPECT_EQ(mime_type("i.gif"), "image/gif");
    EXPECT_EQ(mime_type("i.svg"), "image/svg+xml");
    EXPECT_EQ(mime_type("t.txt"), "text/plain; charset=utf-8");
    EXPECT_EQ(mime_type("m.wasm"), "application/wasm");
    EXPECT_EQ(mime_type("favicon.ico"), "image/x-icon");
    EXPECT_EQ(mime_type("archive.tar.gz"), "application/octet-stream");
    EXPECT_EQ(mime_type("Makefile"), "application/octet-stream");
    EXPECT_EQ(mime_type("dir.html/file"), "application/octet-stream");
    EXPECT_EQ(mime_type("trailingdot."), "application/octet-stream");
}

TEST(Response, Head) {
    std::string out;
    ResponseHead head;
    head.status = 200;
    head.content_type = "text/plain";
    head.content_length = 12;
    head.date = "Sun, 06 Nov 1994 08:49:37 GMT";
    append_head(out, head);
    EXPECT_EQ(out,
              "HTTP/1.1 200 OK\r\nServer: xos-httpd\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
              "Content-Type: text/plain\r\nContent-Length: 12\r\n\r\n");
    out.clear();
    head.version_minor = 0;
    head.date = "";
    append_head(out, head);
    EXPECT_NE(out.find("HTTP/1.0 200 OK\r\n"), std::string::npos);
    EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(Response, ErrorBodyAndHeadOnly) {
    std::string full, head_only;
    append_error(full, 405, 1, false, false, "");
    append_error(head_only, 405, 1, false, true, "");
    EXPECT_EQ(full.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
    EXPECT_NE(full.find("Allow: GET, HEAD\r\n"), std::string::npos);
    EXPECT_NE(full.find("Connection: close\r\n"), std::string::npos);
    std::size_t end = full.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos);
    std::string body = full.substr(end + 4);
    EXPECT_NE(full.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
    EXPECT_EQ(head_only, full.substr(0, end + 4));
}

TEST(Response, HttpDate) { EXPECT_EQ(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT"); }

}  // namespace
