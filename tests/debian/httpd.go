// An HTTP server built with Debian's Go toolchain (golang-go; CGO_ENABLED=0: static, non-PIE),
// for tests/debian: run natively in a chroot of the Debian test root and on xos (xos-run -p),
// and asked the same questions with curl from the host.
//
//	httpd PORT
//
// GET /hello answers a fixed text, /sum?n=N the sum 1..N computed by N goroutines, /quit
// answers and exits with status 0.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: httpd PORT")
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from go on %s %s\n", r.Method, r.URL.Path)
	})
	mux.HandleFunc("/sum", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 || n > 10000 {
			http.Error(w, "n: expected 0..10000", http.StatusBadRequest)
			return
		}
		var total int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := 1; i <= n; i++ {
			wg.Add(1)
			go func(v int64) {
				defer wg.Done()
				mu.Lock()
				total += v
				mu.Unlock()
			}(int64(i))
		}
		wg.Wait()
		fmt.Fprintf(w, "sum 1..%d = %d\n", n, total)
	})
	// /quit answers, then the server shuts down gracefully: Shutdown waits until the answer
	// is written (exiting from the handler raced with it and truncated the reply).
	quit := make(chan struct{})
	var quitOnce sync.Once
	mux.HandleFunc("/quit", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "bye")
		quitOnce.Do(func() { close(quit) })
	})
	server := &http.Server{Addr: ":" + os.Args[1], Handler: mux}
	stopped := make(chan struct{})
	go func() {
		<-quit
		server.Shutdown(context.Background())
		close(stopped)
	}()
	fmt.Fprintf(os.Stderr, "httpd: listening on port %s\n", os.Args[1])
	if err := server.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "httpd:", err)
		os.Exit(1)
	}
	<-stopped
}
