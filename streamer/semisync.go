package streamer

import (
	"errors"
	"sync"
	"time"
)

// errAckAbandoned is returned to go-mysql for an acknowledgement the
// session ended before it could send: the master is not told a
// transaction is safe when the streamer could not make it durable.
var errAckAbandoned = errors.New("semi-synchronous acknowledgement not sent: the capture session ended before the events were durable")

// ackGate lets a semi-synchronous acknowledgement go only once the events
// it covers are durable. go-mysql's reading goroutine counts the events it
// hands to the pump (handed) and, before writing an acknowledgement, waits
// until the pump has settled as many: every event up to there is in a
// record the store made durable, or ends no transaction. The master flags
// a transaction's last event; the acknowledgement follows that event, so
// its transaction is durable before the master releases the client's
// commit. A nil *ackGate lets everything through.
type ackGate struct {
	handed int64 // go-mysql's goroutine only

	mu      sync.Mutex
	settled int64
	moved   chan struct{} // closed, and replaced, each time settled grows
	done    <-chan struct{}
	held    func(time.Duration) // observes how long each acknowledgement waited
}

func newAckGate(done <-chan struct{}, held func(time.Duration)) *ackGate {
	return &ackGate{moved: make(chan struct{}), done: done, held: held}
}

// hand counts one event handed to the pump.
func (g *ackGate) hand() {
	if g != nil {
		g.handed++
	}
}

// settle records that the first n events handed are settled.
func (g *ackGate) settle(n int64) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if n > g.settled {
		g.settled = n
		close(g.moved)
		g.moved = make(chan struct{})
	}
}

// wait returns once every event handed so far is settled, or
// errAckAbandoned when the session ends first.
func (g *ackGate) wait() error {
	began := time.Now()
	for {
		g.mu.Lock()
		ok, moved := g.settled >= g.handed, g.moved
		g.mu.Unlock()
		if ok {
			g.held(time.Since(began))
			return nil
		}
		select {
		case <-moved:
		case <-g.done:
			return errAckAbandoned
		}
	}
}
