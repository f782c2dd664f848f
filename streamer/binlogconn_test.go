package streamer

import (
	"net"
	"testing"
	"time"
)

// deadlineRecorder is a net.Conn that records the read deadlines set on it.
type deadlineRecorder struct {
	net.Conn
	set []time.Time
}

func (d *deadlineRecorder) SetReadDeadline(t time.Time) error {
	d.set = append(d.set, t)
	return nil
}

func TestCoarseDeadlineNeverEarlyAtMostSlackLate(t *testing.T) {
	rec := &deadlineRecorder{}
	c := &binlogConn{Conn: rec}
	base := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	const timeout = 10 * time.Second
	// A read every millisecond for 5 seconds, as go-mysql does per packet.
	for i := 0; i < 5000; i++ {
		want := base.Add(time.Duration(i) * time.Millisecond).Add(timeout)
		if err := c.SetReadDeadline(want); err != nil {
			t.Fatal(err)
		}
		if c.real.Before(want) {
			t.Fatalf("read %d: real deadline %v is before the requested %v", i, c.real, want)
		}
		if late := c.real.Sub(want); late > deadlineSlack {
			t.Fatalf("read %d: real deadline %v late by %v (> %v)", i, c.real, late, deadlineSlack)
		}
		if got := rec.set[len(rec.set)-1]; !got.Equal(c.real) {
			t.Fatalf("read %d: the connection's deadline %v differs from the wrapper's %v", i, got, c.real)
		}
	}
	if n := len(rec.set); n < 5 || n > 6 {
		t.Errorf("5000 requested deadlines over 5 s set %d real ones, want one per %v (5 or 6)", n, deadlineSlack)
	}
	// An earlier deadline than the real one is honoured at once.
	early := base.Add(time.Second)
	if err := c.SetReadDeadline(early); err != nil {
		t.Fatal(err)
	}
	if c.real.Before(early) || c.real.Sub(early) > deadlineSlack {
		t.Errorf("an earlier deadline %v left the real one at %v", early, c.real)
	}
	// Clearing the deadline passes through.
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := rec.set[len(rec.set)-1]; !got.IsZero() || !c.real.IsZero() {
		t.Errorf("clearing the deadline set %v (wrapper %v), want zero", got, c.real)
	}
}

func TestCoarseDeadlineFiresOnSilentConnection(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &binlogConn{Conn: a}
	start := time.Now()
	if err := c.SetReadDeadline(start.Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("read on a silent connection returned %v, want a timeout", err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("the deadline fired after %v, before the requested 50ms", waited)
	}
}
