package applier

import (
	"runtime"
	"time"
)

// cpuShare bounds how many of a run's background goroutines (the producer
// and the planner) compute at once to GOMAXPROCS-1, so that a P stays free
// for the goroutine that talks to the new master. The replay is a chain of
// round trips: each reply must be answered at once, not when a background
// goroutine's time slice ends (with every P busy, the scheduler looks for
// ready network reads only when one of them stops or is preempted, after
// up to 10 ms).
type cpuShare chan struct{}

// shareQuantum is how long a background goroutine keeps its share before
// it gives another a turn: longer means fewer hand-overs, shorter a
// fairer split between decoding ahead and deciding.
const shareQuantum = time.Millisecond

func newCPUShare() cpuShare { return make(cpuShare, max(1, runtime.GOMAXPROCS(0)-1)) }

// turn starts one goroutine's use of the share.
func (c cpuShare) turn() *shareTurn { return &shareTurn{share: c} }

// shareTurn is one goroutine's use of a cpuShare: take before computing,
// pause where another may run, drop before anything that may block.
type shareTurn struct {
	share cpuShare
	held  bool
	since time.Time
}

// take waits for a share unless it holds one.
func (t *shareTurn) take() {
	if !t.held {
		t.share <- struct{}{}
		t.held, t.since = true, time.Now()
	}
}

// pause gives the share back once held for a quantum.
func (t *shareTurn) pause() {
	if t.held && time.Since(t.since) >= shareQuantum {
		t.drop()
	}
}

// drop gives the share back.
func (t *shareTurn) drop() {
	if t.held {
		<-t.share
		t.held = false
	}
}
