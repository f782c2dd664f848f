package streamer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// Errors of SwitchMaster and Drain, for callers to map (the admin API
// maps them to HTTP statuses). A refused new master is a *PreflightError.
var (
	// ErrBadAddress: the master address is not host:port with a port
	// 1-65535.
	ErrBadAddress = errors.New("bad master address")
	// ErrOtherMaster: the caller names an old master the streamer does not
	// read.
	ErrOtherMaster = errors.New("the streamer does not read that master")
	// ErrNotRunning: Run is not running, so nothing can switch or drain.
	ErrNotRunning = errors.New("the streamer is not running")
	// ErrStillConnected: a drain timed out while the streamer still read
	// the old master.
	ErrStillConnected = errors.New("the streamer is still connected to the old master")
)

// DefaultDrainHold is how long a drain holds off reconnecting to the old
// master when the request does not say.
const DefaultDrainHold = 10 * time.Minute

// SwitchRequest asks the streamer to follow a new master.
type SwitchRequest struct {
	Master string // host:port of the new master
	// OldMaster, when set, must be the master the streamer reads (or
	// Master itself, for a repeated request).
	OldMaster string
	// Reason is logged: who asked ("orchestrator", "admin", a recovery id).
	Reason string
}

// SwitchResult is a switch made, or found already made.
type SwitchResult struct {
	Cluster  string
	From, To string
	// Already: the streamer already read To; nothing was recorded.
	Already bool
	// Connected: the streamer was reading From when it failed (see
	// capture.CaptureStatus).
	Connected bool
	// Captured is the captured set at the switch (the switch record's
	// After); Resumed the position on To's history capture resumed at.
	Captured, Resumed repl.GTIDSet
}

// SwitchMaster makes the streamer follow a new master while Run runs: it
// preflights the new master, records under the streamer's lock that the
// next session reads it, ends the current session, and waits until the
// new master accepted the captured position and the switch is durable in
// the log (a KindMasterState record marking the old master failed, then a
// KindMasterSwitch record), or ctx ends. The new session resumes from the
// log's last record exactly as after a reconnect; where the new master's
// history departs from the captured one, see doc.go.
func (s *Streamer) SwitchMaster(ctx context.Context, req SwitchRequest) (SwitchResult, error) {
	if _, _, err := splitHostPort(req.Master); err != nil {
		return SwitchResult{}, fmt.Errorf("%w: %w", ErrBadAddress, err)
	}
	s.switchMu.Lock()
	defer s.switchMu.Unlock()
	s.mu.Lock()
	cur, running, pending := s.master, s.f.running, s.f.pending
	s.mu.Unlock()
	if !running {
		return SwitchResult{}, ErrNotRunning
	}
	knownOld := req.OldMaster == "" || req.OldMaster == cur || req.Master == cur ||
		(pending != nil && req.OldMaster == pending.from)
	if !knownOld {
		return SwitchResult{}, fmt.Errorf("%w: it reads %s, not %s", ErrOtherMaster, cur, req.OldMaster)
	}
	if req.Master == cur && pending == nil {
		s.release() // following cur now: a drain's hold ends
		st := s.Status()
		return SwitchResult{Cluster: s.cfg.Cluster, From: cur, To: cur, Already: true, Captured: st.Position}, nil
	}
	if req.Master != cur {
		if err := s.prepareSwitch(ctx, cur, req); err != nil {
			return SwitchResult{}, err
		}
	}
	return s.awaitSwitch(ctx, req.Master)
}

// prepareSwitch preflights the new master, then points the streamer at it
// and ends the current session.
func (s *Streamer) prepareSwitch(ctx context.Context, cur string, req SwitchRequest) error {
	if err := s.checkNewMaster(ctx, req.Master); err != nil {
		return err
	}
	s.mu.Lock()
	sess := s.f.sess
	p := &pendingSwitch{from: cur, to: req.Master, reason: req.Reason,
		live: sess != nil && sess.master == cur && s.st.Connected}
	if old := s.f.pending; old != nil { // an earlier switch never connected: it is replaced
		p.from, p.live = old.from, old.live
	}
	s.master, s.f.pending, s.f.switched, s.f.held = req.Master, p, true, time.Time{}
	s.notifyLocked()
	s.mu.Unlock()
	if sess != nil {
		sess.cancel(errSwitched)
	}
	s.kick()
	s.log.Info("switching to a new master", "cluster", s.cfg.Cluster, "host", req.Master, "old", p.from,
		"live", p.live, "reason", req.Reason)
	return nil
}

// awaitSwitch waits until the switch to master is durable.
func (s *Streamer) awaitSwitch(ctx context.Context, master string) (SwitchResult, error) {
	var rec *capture.Record
	err := s.waitFor(ctx, func() (bool, error) {
		switch {
		case s.f.pending == nil && s.f.last != nil && s.f.last.To == master:
			rec = s.f.last
			return true, nil
		case s.f.pending == nil || s.f.pending.to != master:
			return false, fmt.Errorf("%w: another switch replaced the one to %s", ErrOtherMaster, master)
		case !s.f.running && s.f.runErr != nil:
			return false, fmt.Errorf("%w: %w", ErrNotRunning, s.f.runErr)
		case !s.f.running:
			return false, ErrNotRunning
		}
		return false, nil
	})
	if err != nil {
		st := s.Status()
		return SwitchResult{}, fmt.Errorf("switching cluster %s to %s (last error: %s): %w", s.cfg.Cluster, master,
			orNone(st.LastError), err)
	}
	return SwitchResult{Cluster: s.cfg.Cluster, From: rec.From, To: rec.To, Connected: s.switchConnected(),
		Captured: rec.After, Resumed: rec.ResumeAt()}, nil
}

// switchConnected is what the last failure record said; set with the
// switch record in the same batch.
func (s *Streamer) switchConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.lastFailedConnected
}

// checkNewMaster preflights a new master, with the rules of a switched
// master (see preflightOptions).
func (s *Streamer) checkNewMaster(ctx context.Context, master string) error {
	db, err := s.openDB(master)
	if err != nil {
		return err
	}
	defer db.Close()
	opts, err := s.preflightOptions(ctx, db, true)
	if err != nil {
		return fmt.Errorf("preflight of the new master %s: %w", master, err)
	}
	if _, err := Preflight(ctx, db, s.cfg.Flavor, opts...); err != nil {
		var pe *PreflightError
		if errors.As(err, &pe) {
			return fmt.Errorf("the new master %s: %w", master, err)
		}
		return fmt.Errorf("preflight of the new master %s: %w", master, err)
	}
	return nil
}

// DrainRequest asks the streamer to settle capture from a failed master.
type DrainRequest struct {
	// OldMaster, when set, must be the master the streamer reads.
	OldMaster string
	// Hold is how long no new session starts (DefaultDrainHold when 0);
	// a switch ends it.
	Hold time.Duration
}

// DrainResult is the capture from the failed master, as the log holds it.
type DrainResult struct {
	Cluster string
	capture.Completeness
}

// Drain waits until capture holds everything it can get from the master
// the streamer reads, which the caller says failed: the streamer holds off
// new sessions, waits (until ctx ends) for the running session to end and
// its last records to be durable, then records the master failed (a
// KindMasterState record with Failed, and Connected as endedConnected
// says) unless the log already ends with that. If ctx ends first, the hold
// is lifted and the error wraps ErrStillConnected.
func (s *Streamer) Drain(ctx context.Context, req DrainRequest) (DrainResult, error) {
	s.switchMu.Lock()
	defer s.switchMu.Unlock()
	hold := req.Hold
	if hold <= 0 {
		hold = DefaultDrainHold
	}
	s.mu.Lock()
	cur, running := s.master, s.f.running
	if running && (req.OldMaster == "" || req.OldMaster == cur) {
		s.f.held = time.Now().Add(hold)
	}
	s.mu.Unlock()
	switch {
	case !running:
		return DrainResult{}, ErrNotRunning
	case req.OldMaster != "" && req.OldMaster != cur:
		return DrainResult{}, fmt.Errorf("%w: it reads %s, not %s", ErrOtherMaster, cur, req.OldMaster)
	}
	err := s.waitFor(ctx, func() (bool, error) { return s.f.sess == nil, nil })
	if err != nil {
		s.release()
		return DrainResult{}, fmt.Errorf("%w %s: %w", ErrStillConnected, cur, err)
	}
	return s.markFailed(ctx, cur)
}

// release ends a drain's hold.
func (s *Streamer) release() {
	s.mu.Lock()
	held := !s.f.held.IsZero()
	s.f.held = time.Time{}
	s.mu.Unlock()
	if held {
		s.kick()
	}
}

// markFailed appends the failure record of master, unless the log ends
// with it, and reads back what the log says.
func (s *Streamer) markFailed(ctx context.Context, master string) (DrainResult, error) {
	last, ok, err := s.store.Last(ctx)
	if err != nil {
		return DrainResult{}, fmt.Errorf("reading the capture log's last record: %w", err)
	}
	if !ok || last.Kind != capture.KindMasterState || !last.Failed || last.Master != master {
		rec := s.failedRecord(master, ok && endedConnected(last, master), last)
		start := time.Now()
		if err := s.store.Append(ctx, rec); err != nil {
			return DrainResult{}, fmt.Errorf("recording %s failed in the capture log: %w", master, err)
		}
		s.durable([]capture.Record{rec}, time.Since(start), 0, 0)
		last = rec
	}
	return DrainResult{Cluster: s.cfg.Cluster, Completeness: capture.CaptureStatus([]capture.Record{last}, master)}, nil
}

// failedRecord marks master failed, after last (the log's last record).
func (s *Streamer) failedRecord(master string, connected bool, last capture.Record) capture.Record {
	rec := capture.Record{Kind: capture.KindMasterState, Cluster: s.cfg.Cluster, Master: master,
		After: last.After, MasterPos: last.MasterPos, GTID: last.GTID, Connected: connected, Failed: true}
	if rec.After.IsEmpty() {
		rec.After = repl.NewGTIDSet(s.cfg.Flavor)
	}
	return rec
}
