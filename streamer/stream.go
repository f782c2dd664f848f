package streamer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// Streamer captures one cluster: it reads its master's binlog as a
// replica and appends every committed transaction to the cluster's
// capture log.
type Streamer struct {
	cfg   Config
	store capture.Store
	log   *slog.Logger
	m     *metrics

	mu       sync.Mutex
	master   string // read at each connect: changing it moves the next session
	st       Status
	caughtUp bool
	warned   bool
	f        follow // master switches, drains and sessions: see follow.go

	switchMu sync.Mutex // serializes SwitchMaster and Drain
}

// Status is a snapshot of a streamer.
type Status struct {
	Cluster   string
	Master    string // host:port being (or last) read
	Connected bool
	// Position is the durable captured position: every transaction in it
	// is in the capture log, or came before capture began.
	Position   repl.GTIDSet
	LastGTID   repl.GTID // last durable transaction
	LastCommit time.Time // its commit time on the master (UTC)
	// Lag is now minus LastCommit, 0 when caught up with an idle master.
	Lag        time.Duration
	Reconnects uint64
	LastError  string
}

// New checks cfg and registers the streamer's metrics on reg (a new
// private registry when nil).
func New(cfg Config, store capture.Store, log *slog.Logger, reg prometheus.Registerer) (*Streamer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, fmt.Errorf("streamer for cluster %s: nil capture store", cfg.Cluster)
	}
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	cfg = cfg.withDefaults()
	s := &Streamer{cfg: cfg, store: store, log: log, master: cfg.Master, f: newFollow()}
	s.st = Status{Cluster: cfg.Cluster, Master: cfg.Master, Position: repl.NewGTIDSet(cfg.Flavor)}
	m, err := newMetrics(reg, cfg.Cluster, s.lagSeconds)
	if err != nil {
		return nil, err
	}
	s.m = m
	return s, nil
}

// Run captures until ctx is done (it then returns nil) or a fatal error:
// a preflight refusal, binlog purged past the captured position, an event
// that cannot be decoded, a closed store, or a full disk under the store
// (an Append error wrapping syscall.ENOSPC: the error names the durable
// position capture stopped at and what to do). Lost connections, refused
// logins and store append failures are retried with backoff, each time
// from the position the store holds durably. A master switch (SwitchMaster)
// ends the session at once and the next one reads the new master; a drain
// (Drain) holds off new sessions.
func (s *Streamer) Run(ctx context.Context) (err error) {
	s.begin(ctx)
	defer func() { s.end(err) }()
	backoff := s.cfg.ReconnectMin
	for {
		if !s.waitHold(ctx) {
			return nil
		}
		progressed, err := s.runSession(ctx, s.currentMaster())
		if errors.Is(err, errSwitched) || errors.Is(err, errHeld) {
			backoff = s.cfg.ReconnectMin
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if isFatal(err) {
			return fmt.Errorf("capture of cluster %s from %s stopped: %w", s.cfg.Cluster, s.currentMaster(), err)
		}
		if progressed {
			backoff = s.cfg.ReconnectMin
		}
		s.m.reconnects.Inc()
		s.log.Warn("master connection lost or refused; reconnecting", "cluster", s.cfg.Cluster,
			"host", s.currentMaster(), "error", err.Error(), "backoff", backoff.String())
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		case <-s.f.wake:
		}
		backoff = min(backoff*2, s.cfg.ReconnectMax)
	}
}

// disconnected records the end of a session with master: status, metric
// and, when the session had announced itself, a master-state record saying
// capture from this master is interrupted.
func (s *Streamer) disconnected(ctx context.Context, master string, announced bool, err error) {
	s.mu.Lock()
	wasConnected := s.st.Connected
	s.st.Connected = false
	if err != nil && ctx.Err() == nil {
		s.st.LastError = err.Error()
		s.st.Reconnects++
	}
	pos, lin, last := s.st.Position, s.f.lineage, s.st.LastGTID
	s.mu.Unlock()
	s.m.setConnected(false)
	if !wasConnected || !announced || ctx.Err() != nil {
		return
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rec := masterState(s.cfg.Cluster, master, pos, lin, last, false)
	if aerr := s.store.Append(actx, rec); aerr != nil {
		s.log.Warn("could not record the disconnection in the capture log", "cluster", s.cfg.Cluster,
			"host", rec.Master, "error", aerr.Error())
	}
}

// masterState is a KindMasterState record: after is the captured set,
// lin the position on the master's own history (MasterPos when it differs).
func masterState(cluster, master string, after, lin repl.GTIDSet, last repl.GTID, connected bool) capture.Record {
	return capture.Record{Kind: capture.KindMasterState, Cluster: cluster, Master: master,
		After: after, MasterPos: masterPos(after, lin), GTID: last, Connected: connected}
}

func (s *Streamer) currentMaster() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.master
}

// Status returns a snapshot.
func (s *Streamer) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Master = s.master
	st.Lag = s.lagLocked(time.Now())
	return st
}

func (s *Streamer) lagSeconds() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lagLocked(time.Now()).Seconds()
}

func (s *Streamer) lagLocked(now time.Time) time.Duration {
	if s.caughtUp || s.st.LastCommit.IsZero() {
		return 0
	}
	return max(now.Sub(s.st.LastCommit), 0)
}

func (s *Streamer) setCaughtUp(v bool) {
	s.mu.Lock()
	s.caughtUp = v
	s.mu.Unlock()
}

// setConnected marks the session connected at pos (the captured set); pos
// is published only when it is durable (read from the store).
func (s *Streamer) setConnected(pos repl.GTIDSet, durable bool) {
	s.mu.Lock()
	s.st.Connected = true
	if durable {
		s.st.Position = pos
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.m.setConnected(true)
	if durable {
		s.m.setPosition(pos.String())
	}
}

// durable publishes what one Append made durable.
func (s *Streamer) durable(recs []capture.Record, took time.Duration, rowsEvents, bytes int) {
	last := recs[len(recs)-1]
	txns := 0
	s.mu.Lock()
	for i := range recs {
		if recs[i].Kind == capture.KindTxn {
			txns++
			s.st.LastGTID, s.st.LastCommit = recs[i].GTID, recs[i].CommitTime
		}
	}
	s.st.Position = last.After
	s.recordedLocked(recs)
	s.mu.Unlock()
	s.m.appended(took, txns, rowsEvents, bytes, last.After.String())
}

// fatalError marks an error that retrying cannot cure.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

func fatal(err error) error {
	if err == nil || isFatal(err) {
		return err
	}
	return &fatalError{err}
}

func isFatal(err error) bool {
	var f *fatalError
	return errors.As(err, &f)
}
