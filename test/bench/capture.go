package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
)

// capturer is one streamer capturing the primary into one store.
type capturer struct {
	kind  string
	dir   string // local store directory
	topic string // Kafka topic
	store *timedStore
	cfg   streamer.Config
	log   *slog.Logger

	cancel context.CancelFunc
	s      *streamer.Streamer
	done   chan struct{}
	err    error
}

// newCapturer opens a fresh store of kind ("local" or "kafka") named name.
func (e *env) newCapturer(ctx context.Context, kind, name string) (*capturer, error) {
	logf, err := os.OpenFile(filepath.Join(e.work, "streamer.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the streamer log: %w", err)
	}
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn})).With("store", kind+"/"+name)
	p := e.primary
	c := &capturer{kind: kind, log: log, cfg: streamer.Config{Cluster: "bench", Flavor: repl.MariaDB, Master: p.Addr(),
		User: p.User, Password: p.Password, ServerID: e.serverID(), MaxBatchRecords: e.o.batchRecs}}
	var st capture.Store
	switch kind {
	case "local":
		c.dir = filepath.Join(e.storeDir, "store-"+name)
		st, err = capture.OpenLocal(c.dir, capture.LocalOptions{Logger: log})
	case "kafka":
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix) // never fails
		c.topic = "recoup-bench-" + name + "-" + hex.EncodeToString(suffix)
		st, err = capture.OpenKafka(ctx, e.kafkaOptions(c.topic, log))
	}
	if err != nil {
		return nil, fmt.Errorf("opening the %s store: %w", kind, err)
	}
	c.store = &timedStore{Store: st}
	return c, nil
}

func (e *env) kafkaOptions(topic string, log *slog.Logger) capture.KafkaOptions {
	return capture.KafkaOptions{Brokers: []string{e.kafkaAddr}, Topic: topic, Cluster: "bench", Logger: log,
		MaxMessageBytes: e.o.kafkaMsg}
}

// openReader opens a second handle on the capturer's log, as an
// independent reader would: read-only for the local store, a new client
// for Kafka.
func (e *env) openReader(ctx context.Context, c *capturer) (capture.Store, error) {
	if c.kind == "local" {
		return capture.OpenLocalReadOnly(c.dir)
	}
	return capture.OpenKafka(ctx, e.kafkaOptions(c.topic, c.log))
}

// start runs a new streamer on the store.
func (c *capturer) start() error {
	s, err := streamer.New(c.cfg, c.store, c.log, prometheus.NewRegistry())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.s, c.cancel, c.done, c.err = s, cancel, make(chan struct{}), nil
	go func() {
		c.err = s.Run(ctx)
		close(c.done)
	}()
	return nil
}

// stop stops the streamer and returns Run's error.
func (c *capturer) stop() error {
	c.cancel()
	<-c.done
	return c.err
}

// waitFor polls the streamer's durable position every 200µs until it
// holds want, and returns when it did.
func (c *capturer) waitFor(ctx context.Context, want repl.GTIDSet, limit time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		st := c.s.Status()
		if want.Subset(st.Position) {
			return time.Now(), nil
		}
		select {
		case <-c.done:
			return time.Time{}, fmt.Errorf("streamer stopped before capturing %s: %w", want, c.err)
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s store: position %s did not reach %s (last error %q): %w",
				c.kind, st.Position, want, st.LastError, ctx.Err())
		case <-time.After(200 * time.Microsecond):
		}
	}
}

func (c *capturer) close() error { return c.store.Close() }

// timedStore notes when each transaction's Append returned, once enabled,
// and how busy the store was.
type timedStore struct {
	capture.Store
	mu      sync.Mutex
	durable map[repl.GTID]time.Time // nil: not noting
	use     storeUse
}

// storeUse is what the streamer asked of the store: Append calls, the
// records they held, the time spent in them, and when the first returned.
type storeUse struct {
	appends, records int
	busy             time.Duration
	first            time.Time
}

func (s *timedStore) Append(ctx context.Context, recs ...capture.Record) error {
	began := time.Now()
	if err := s.Store.Append(ctx, recs...); err != nil {
		return err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.use.appends++
	s.use.records += len(recs)
	s.use.busy += now.Sub(began)
	if s.use.first.IsZero() {
		s.use.first = now
	}
	if s.durable != nil {
		for _, r := range recs {
			if _, ok := s.durable[r.GTID]; r.Kind == capture.KindTxn && !ok {
				s.durable[r.GTID] = now
			}
		}
	}
	return nil
}

// usage returns what the store did since the last call, and starts over.
func (s *timedStore) usage() storeUse {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.use
	s.use = storeUse{}
	return u
}

func (s *timedStore) note() {
	s.mu.Lock()
	s.durable = map[repl.GTID]time.Time{}
	s.mu.Unlock()
}

func (s *timedStore) times() map[repl.GTID]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.durable
}

// tailPoll is how long the tailing reader sleeps at the end of the log.
const tailPoll = time.Millisecond

// tailer reads a log as it grows and notes when each transaction became
// readable.
type tailer struct {
	mu     sync.Mutex
	seen   map[repl.GTID]time.Time
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

func startTail(st capture.Store, from int64) *tailer {
	ctx, cancel := context.WithCancel(context.Background())
	t := &tailer{seen: map[repl.GTID]time.Time{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		t.setErr(t.run(ctx, st, from))
	}()
	return t
}

func (t *tailer) run(ctx context.Context, st capture.Store, from int64) error {
	rd, err := st.ReadFrom(ctx, from)
	if err != nil {
		return err
	}
	defer rd.Close()
	for {
		rec, err := rd.Next(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, io.EOF):
			time.Sleep(tailPoll)
			continue
		case err != nil:
			return fmt.Errorf("tailing the log: %w", err)
		}
		if rec.Kind != capture.KindTxn {
			continue
		}
		now := time.Now()
		t.mu.Lock()
		if _, dup := t.seen[rec.GTID]; !dup {
			t.seen[rec.GTID] = now
		}
		t.mu.Unlock()
	}
}

func (t *tailer) setErr(err error) {
	t.mu.Lock()
	t.err = err
	t.mu.Unlock()
}

// waitAll waits until every GTID of want was read, or limit passes.
func (t *tailer) waitAll(want map[repl.GTID]time.Time, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		t.mu.Lock()
		missing, err := 0, t.err
		for g := range want {
			if _, ok := t.seen[g]; !ok {
				missing++
			}
		}
		t.mu.Unlock()
		switch {
		case err != nil:
			return err
		case missing == 0:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("the tailing reader still misses %d of %d transactions after %v", missing, len(want), limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends the reader and returns what it saw.
func (t *tailer) stop() (map[repl.GTID]time.Time, error) {
	t.cancel()
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen, t.err
}
