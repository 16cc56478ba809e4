// Asynchronous preemption (SIGURG with a ucontext edit of RIP/RSP, docs/processes.md "Signal
// delivery"): with one P, a goroutine spins in a loop without calls (no preemption point) while
// the main goroutine sleeps, allocates and forces garbage collections, which stop the world. The
// main goroutine runs again, and each collection completes, only if the spinner is preempted
// asynchronously. Same output natively and on xos; exit status 0.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

var stop int32
var spins uint64

func spin() {
	n := uint64(0)
	for atomic.LoadInt32(&stop) == 0 {
		n++
	}
	atomic.StoreUint64(&spins, n)
}

func main() {
	runtime.GOMAXPROCS(1)
	go spin()
	time.Sleep(20 * time.Millisecond) // the spinner takes the only P
	fmt.Println("main ran while the spinner spins")
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	kept := make([][]byte, 0, 64)
	total := 0
	for i := 0; i < 40; i++ {
		b := make([]byte, 64<<10)
		b[i%len(b)] = byte(i)
		total += len(b)
		if len(kept) < cap(kept) {
			kept = append(kept, b)
		} else {
			kept[i%len(kept)] = b
		}
		if i%10 == 0 {
			runtime.GC()
		}
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	forced := after.NumForcedGC - before.NumForcedGC
	fmt.Printf("allocated %d KiB, forced collections %d\n", total>>10, forced)
	atomic.StoreInt32(&stop, 1)
	for atomic.LoadUint64(&spins) == 0 {
		time.Sleep(time.Millisecond)
	}
	fmt.Println("spinner stopped")
	if forced != 4 {
		os.Exit(1)
	}
}
