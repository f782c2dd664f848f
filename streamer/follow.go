package streamer

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// errSwitched ends a session whose master was replaced by SwitchMaster;
// errHeld means a drain holds off new sessions.
var (
	errSwitched = errors.New("the streamer switched to a new master")
	errHeld     = errors.New("a drain holds capture")
)

// follow is the streamer's state about its master, its sessions, switches
// and drains. Every field is guarded by Streamer.mu.
type follow struct {
	lineage  repl.GTIDSet // ResumeAt of the last durable record
	sess     *sessionCtl  // the running session (and its disconnection), nil between sessions
	held     time.Time    // Drain: no new session before this
	pending  *pendingSwitch
	switched bool // the master came from a switch, not from the config
	running  bool
	runErr   error
	last     *capture.Record // the last switch record made durable
	// lastFailedConnected is the Connected flag of the last failure
	// record made durable.
	lastFailedConnected bool
	changed             chan struct{} // closed and replaced on every change a waiter may want
	wake                chan struct{} // interrupts Run's wait between sessions
}

// sessionCtl is a running session.
type sessionCtl struct {
	master string
	cancel context.CancelCauseFunc
}

// pendingSwitch is a switch the next session to its master records.
type pendingSwitch struct {
	from, to string
	live     bool // the switch ended a session connected to from
	reason   string
}

func newFollow() follow {
	return follow{changed: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// notifyLocked wakes every waitFor; s.mu is held.
func (s *Streamer) notifyLocked() {
	close(s.f.changed)
	s.f.changed = make(chan struct{})
}

// kick interrupts Run's wait between sessions (backoff or hold).
func (s *Streamer) kick() {
	select {
	case s.f.wake <- struct{}{}:
	default:
	}
}

// waitFor waits until cond, run under s.mu, is done or fails.
func (s *Streamer) waitFor(ctx context.Context, cond func() (bool, error)) error {
	for {
		s.mu.Lock()
		done, err := cond()
		ch := s.f.changed
		s.mu.Unlock()
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// begin marks Run started. When the log's last record was captured from
// another master than the configured one, capture follows that master:
// the log records every switch, the config file is not rewritten.
func (s *Streamer) begin(ctx context.Context) {
	last, ok, err := s.store.Last(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.running, s.f.runErr = true, nil
	if err != nil || !ok {
		return // the session reports the error
	}
	s.f.lineage = last.ResumeAt()
	if m := last.Master; m != "" && m != s.master {
		if _, _, err := splitHostPort(m); err == nil {
			s.log.Warn("the capture log's last record comes from another master than the configured one: capture follows it "+
				"(set the cluster's master in the config, or switch with the admin API)", "cluster", s.cfg.Cluster,
				"host", m, "configured", s.master)
			s.master, s.st.Master, s.f.switched = m, m, true
		}
	}
}

// end marks Run stopped with err.
func (s *Streamer) end(err error) {
	s.mu.Lock()
	s.f.running, s.f.runErr = false, err
	s.notifyLocked()
	s.mu.Unlock()
}

// runSession runs one session with master under its own context, which
// SwitchMaster cancels, and records its end unless a switch ended it. It
// returns errHeld, starting nothing, while a drain holds capture.
func (s *Streamer) runSession(ctx context.Context, master string) (bool, error) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	if time.Now().Before(s.f.held) {
		s.mu.Unlock()
		return false, errHeld
	}
	s.f.sess = &sessionCtl{master: master, cancel: cancel}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.f.sess = nil
		s.notifyLocked()
		s.mu.Unlock()
	}()
	progressed, err := s.session(sctx, master)
	cancel(nil)
	if errors.Is(context.Cause(sctx), errSwitched) && ctx.Err() == nil {
		s.mu.Lock()
		s.st.Connected = false
		s.mu.Unlock()
		s.m.setConnected(false)
		return progressed, errSwitched
	}
	s.disconnected(ctx, master, progressed, err)
	return progressed, err
}

// waitHold waits while a drain holds capture; false when ctx ended.
func (s *Streamer) waitHold(ctx context.Context) bool {
	for {
		s.mu.Lock()
		until := s.f.held
		s.mu.Unlock()
		wait := time.Until(until)
		if until.IsZero() || wait <= 0 {
			return ctx.Err() == nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		case <-s.f.wake:
			t.Stop()
		}
	}
}

// recordedLocked follows what Append made durable: the resume position,
// and a switch record completing a pending switch. s.mu is held.
func (s *Streamer) recordedLocked(recs []capture.Record) {
	s.f.lineage = recs[len(recs)-1].ResumeAt()
	for i := range recs {
		if recs[i].Kind == capture.KindMasterState && recs[i].Failed {
			s.f.lastFailedConnected = recs[i].Connected
		}
		if recs[i].Kind != capture.KindMasterSwitch {
			continue
		}
		rec := recs[i]
		s.f.last = &rec
		if p := s.f.pending; p != nil && p.to == rec.To {
			s.f.pending = nil
		}
	}
	s.notifyLocked()
}

// followsSwitch reports whether the master came from a switch.
func (s *Streamer) followsSwitch() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.switched
}

// preflightOptions are the Preflight options for a server the streamer
// reads. A master reached by a switch may be read-only if it replicates
// from no server: a promoted master that recoup's hook keeps fenced until
// compensation is done. A server that replicates is a replica, refused
// unless AllowReplicaSource.
func (s *Streamer) preflightOptions(ctx context.Context, db *sql.DB, switched bool) ([]PreflightOption, error) {
	opts := []PreflightOption{CaptureSchemas(s.cfg.Schemas...), ReplicaServerID(s.cfg.ServerID)}
	if s.cfg.SemiSync {
		opts = append(opts, SemiSyncReplica())
	}
	if s.cfg.AllowReplicaSource {
		return append(opts, AllowReplicaSource()), nil
	}
	if !switched {
		return opts, nil
	}
	replicating, known, err := isReplicating(ctx, db, s.cfg.Flavor)
	if err != nil {
		return nil, err
	}
	if known && !replicating {
		opts = append(opts, AllowReplicaSource()) // fenced master: read_only accepted
	}
	return opts, nil
}

// endedConnected reports whether the log's last record says the streamer
// was reading master when it failed: it is the disconnection of a session
// that streamed from master (every session that reaches a master writes a
// record, so none reached it since), or a failure record with Connected.
// It cannot tell a crash from a network partition during which the master
// kept committing.
func endedConnected(last capture.Record, master string) bool {
	if last.Kind != capture.KindMasterState || last.Master != master {
		return false
	}
	if last.Failed {
		return last.Connected
	}
	return !last.Connected
}

// masterPos is the MasterPos of a record with these positions: lin when it
// differs from after, else empty.
func masterPos(after, lin repl.GTIDSet) repl.GTIDSet {
	if lin.IsEmpty() || lin.Equal(after) {
		return repl.GTIDSet{}
	}
	return lin
}

// FollowState is what the streamer follows, beyond Status.
type FollowState struct {
	// Switched: the master came from a switch (API, Orchestrator or the
	// log), not from the config.
	Switched bool
	// Pending is the master a switch waits to connect to ("" when none).
	Pending string
	// HeldUntil: a drain holds off new sessions until then.
	HeldUntil time.Time
	Running   bool
	// LastSwitch is the last switch recorded by this process.
	LastSwitch *capture.Record
}

// Following returns what the streamer follows.
func (s *Streamer) Following() FollowState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := FollowState{Switched: s.f.switched, Running: s.f.running}
	if s.f.last != nil {
		rec := *s.f.last
		st.LastSwitch = &rec
	}
	if s.f.pending != nil {
		st.Pending = s.f.pending.to
	}
	if time.Now().Before(s.f.held) {
		st.HeldUntil = s.f.held
	}
	return st
}
