package applier

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/capture/storetest"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// capturer is a real streamer capturing one sandbox instance into a fresh
// local capture store: the applier tests read the log production writes,
// so a streamer defect that changes records fails them too.
type capturer struct {
	in     *sandbox.Instance
	store  *capture.Local
	s      *streamer.Streamer
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned, with err set
	err    error
}

// captureTimeout bounds each wait for the streamer.
const captureTimeout = 30 * time.Second

// startCapture starts a streamer on in and returns once capture has begun:
// the session is connected and its first master-state record (where
// capture begins: an empty log starts at the master's gtid_binlog_pos) is
// durable, so every transaction committed after startCapture returns is
// captured. Call it before the writes that matter. The streamer is stopped
// (context cancelled, Run waited for) at the end of the test, before the
// store is closed.
func startCapture(t testing.TB, in *sandbox.Instance, cluster string) *capturer {
	t.Helper()
	store, err := capture.OpenLocal(t.TempDir(), capture.LocalOptions{})
	if err != nil {
		t.Fatalf("opening a local capture store: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() }) // runs after the stop below
	cfg := streamer.Config{
		Cluster: cluster, Flavor: repl.MariaDB, Master: in.Addr(), User: in.User, Password: in.Password,
		ServerID: 4000 + in.ServerID, HeartbeatPeriod: 200 * time.Millisecond,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
	}
	s, err := streamer.New(cfg, store, captureLogger(), nil)
	if err != nil {
		t.Fatalf("creating the streamer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &capturer{in: in, store: store, s: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		c.err = s.Run(ctx)
		close(c.done)
	}()
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("streamer of %s: %v", in.Name, err)
		}
	})
	c.poll(t, "capture to begin", func() bool {
		_, ok, err := store.Last(t.Context())
		return err == nil && ok && s.Status().Connected
	})
	return c
}

// captureLogger discards the streamer's log unless APPLIER_TEST_LOG is set.
func captureLogger() *slog.Logger {
	if os.Getenv("APPLIER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// stop cancels Run and returns its error; it can be called more than once.
func (c *capturer) stop() error {
	c.cancel()
	select {
	case <-c.done:
		return c.err
	case <-time.After(captureTimeout):
		return errors.New("Run did not return within 30s of cancel")
	}
}

// poll waits until cond holds, failing the test if Run returns first or
// captureTimeout passes.
func (c *capturer) poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(captureTimeout)
	for !cond() {
		select {
		case <-c.done:
			t.Fatalf("streamer of %s: Run returned while waiting for %s: %v", c.in.Name, what, c.err)
		case <-deadline:
			st := c.s.Status()
			t.Fatalf("streamer of %s: waited %s for %s (captured %s, last error %q)", c.in.Name, captureTimeout, what,
				st.Position, st.LastError)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// wait waits until the store durably holds the master's current
// gtid_binlog_pos, stops the streamer (so later changes to the master,
// such as killing it or making it a replica, leave the log as it is) and
// returns every record of the log, with their offsets.
func (c *capturer) wait(t testing.TB) []capture.Record {
	t.Helper()
	want, err := c.in.GTIDBinlogPos(t.Context())
	if err != nil {
		t.Fatalf("reading gtid_binlog_pos of %s: %v", c.in.Name, err)
	}
	c.poll(t, "position "+want.String(), func() bool { return want.Subset(c.s.Status().Position) })
	if err := c.stop(); err != nil {
		t.Fatalf("stopping the streamer of %s: %v", c.in.Name, err)
	}
	return readRecords(t, c.store)
}

// readRecords reads a whole capture log.
func readRecords(t testing.TB, store capture.Store) []capture.Record {
	t.Helper()
	return storetest.ReadLog(t, store, false)
}

// txnsAfter returns the transaction records whose GTIDs are not in base,
// in log order.
func txnsAfter(recs []capture.Record, base repl.GTIDSet) []capture.Record {
	var out []capture.Record
	for _, r := range recs {
		if r.Kind == capture.KindTxn && !base.Contains(r.GTID) {
			out = append(out, r)
		}
	}
	return out
}
