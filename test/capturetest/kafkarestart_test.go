package capturetest

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	kafkatest "github.com/recoup-dev/recoup/test/kafka"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestKafkaBrokerRestart stops the Kafka broker for a few seconds while a
// writer keeps committing on the master, then starts it again. The
// streamer must block and retry: nothing is captured while the broker is
// down, and at the end the log holds every master transaction exactly
// once, in order (after Dedupe).
func TestKafkaBrokerRestart(t *testing.T) {
	b := kafkatest.NewBroker(t)
	inst := sandbox.StartInstance(t, nil)
	db := inst.DB(t)
	topic := b.NewTopic(t)
	c := startCapture(t, storeKind{name: "kafka", open: func(t *testing.T) capture.Store {
		return openKafka(t, b, topic)
	}}, inst, 0)
	mustExec(t, db, "CREATE DATABASE app")
	mustExec(t, db, "CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, s VARCHAR(40))")

	ctx, stopWriter := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var committed int
	wg.Add(1)
	go func() {
		defer wg.Done()
		committed = commitLoop(ctx, t, db, 2*time.Millisecond)
	}()
	time.Sleep(time.Second)
	b.Stop(t)
	time.Sleep(3 * time.Second)
	// The master moved on while the broker was down, and the streamer
	// could not make any of it durable.
	if pos, err := inst.GTIDBinlogPos(t.Context()); err != nil {
		t.Fatal(err)
	} else if st := c.r.s.Status(); pos.Subset(st.Position) {
		t.Errorf("with the broker stopped, the captured position %s holds the master's %s", st.Position, pos)
	}
	b.Start(t)
	time.Sleep(time.Second)
	stopWriter()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	c.finish(t, inst, 60*time.Second)
	st := c.r.s.Status()
	if st.Reconnects == 0 {
		t.Errorf("the streamer reports no retry across a broker restart: %+v", st)
	}
	raw := countRaw(t, c.store)
	t.Logf("%d transactions committed by the writer; %d records in the topic before Dedupe; %d retries",
		committed, raw, st.Reconnects)
	if committed < 500 {
		t.Errorf("the writer committed only %d transactions: the test proves little", committed)
	}
}

// commitLoop commits small transactions every interval until ctx ends and
// returns how many it committed. An error other than ctx's ends it and
// fails t.
func commitLoop(ctx context.Context, t *testing.T, db execer, interval time.Duration) int {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	n := 0
	for {
		var err error
		if n%5 == 0 {
			_, err = db.ExecContext(ctx, "INSERT INTO app.t (v, s) VALUES (?, ?), (?, ?)", n, "pair", -n, nil)
		} else {
			_, err = db.ExecContext(ctx, "INSERT INTO app.t (v, s) VALUES (?, ?)", n, "one")
		}
		if ctx.Err() != nil {
			return n
		}
		if err != nil {
			t.Errorf("writer after %d transactions: %v", n, err)
			return n
		}
		n++
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
	}
}

// countRaw counts the records of the store without Dedupe.
func countRaw(t *testing.T, store capture.Store) int {
	t.Helper()
	rd, err := store.ReadFrom(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	n := 0
	for {
		_, err := rd.Next(t.Context())
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}
