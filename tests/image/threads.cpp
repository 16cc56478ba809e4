// std::thread on xos: exceptions thrown and caught in 16 threads at once, thread_local objects
// with destructors, std::mutex + std::condition_variable, std::this_thread::sleep_for.
// Exits with the number of failed checks.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures;
void check(bool ok, const char* what) {
    if (!ok) {
        std::printf("FAIL: %s\n", what);
        ++failures;
    }
}

std::atomic<int> destroyed;
struct PerThread {
    int value = 0;
    ~PerThread() { destroyed.fetch_add(1); }
};
thread_local PerThread per_thread;

[[gnu::noinline]] void deep_throw(int depth, int id) {
    if (depth == 0) throw std::runtime_error("thread " + std::to_string(id));
    deep_throw(depth - 1, id);
}

}  // namespace

int main() {
    // 16 threads throw and catch at the same time, through several frames each.
    std::atomic<int> caught{0};
    std::atomic<int> go{0};
    std::vector<std::thread> throwers;
    for (int id = 0; id < 16; ++id) {
        throwers.emplace_back([&, id] {
            per_thread.value = id;
            while (!go.load()) std::this_thread::yield();
            for (int round = 0; round < 20; ++round) {
                try {
                    deep_throw(5 + round % 3, id);
                } catch (const std::runtime_error& e) {
                    if (e.what() == "thread " + std::to_string(id) && per_thread.value == id) caught.fetch_add(1);
                }
            }
        });
    }
    go.store(1);
    for (auto& t : throwers) t.join();
    check(caught.load() == 16 * 20, "every thread caught its own exceptions");
    check(destroyed.load() == 16, "thread_local destructors ran once per thread");

    // A condition variable handing work between threads.
    std::mutex lock;
    std::condition_variable ready;
    int stage = 0;
    std::thread worker([&] {
        std::unique_lock guard(lock);
        ready.wait(guard, [&] { return stage == 1; });
        stage = 2;
        ready.notify_one();
    });
    {
        std::unique_lock guard(lock);
        stage = 1;
        ready.notify_one();
        check(ready.wait_for(guard, std::chrono::seconds(10), [&] { return stage == 2; }), "condition variable");
    }
    worker.join();

    auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto slept = std::chrono::steady_clock::now() - start;
    check(slept >= std::chrono::milliseconds(50), "sleep_for(50ms) sleeps at least 50 ms");
    check(slept < std::chrono::seconds(1), "sleep_for(50ms) does not sleep absurdly long");
    check(std::thread::hardware_concurrency() >= 1, "hardware_concurrency");

    std::printf("%d failure(s)\n", failures);
    return failures;
}
