package hook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
)

// DefaultCaptureWait bounds the capture step's wait for the log to settle.
const DefaultCaptureWait = 5 * time.Second

// capturePoll is the interval between reads of the capture log's tail.
const capturePoll = 25 * time.Millisecond

// settler is Capture over the capture log itself, plus the daemon's admin
// API when one is configured.
type settler struct {
	cluster, old, new string
	uid               string
	flavor            repl.Flavor
	open              func(ctx context.Context) (capture.Store, error)
	wait              time.Duration
	admin             *Admin
	log               *slog.Logger
}

// Settle makes sure the capture log holds everything it can get from the
// old master. With a daemon, it asks the daemon to follow the new master
// (the daemon records the old master failed, then the switch, once the
// new master accepted the captured position), or to drain the old master
// if it refuses: when one succeeds and the captured set holds the old
// master's final position (if known), capture is settled. Otherwise it
// reads the log's last record until it shows that:
//
//   - the old master was fenced and its final position is within the
//     captured set; or
//   - the old master was not reached, and the streamer recorded losing it
//     (a master-state record, not connected) or moved on (a master
//     switch).
//
// When the wait ends first, an unreached old master is not an error
// (compensation proceeds; its report says the capture is "unknown-after"
// its last GTID); a reached one is, since transactions it certainly
// committed are not in the log.
func (s *settler) Settle(ctx context.Context, old OldFence) (CaptureInfo, error) {
	info := CaptureInfo{Mode: "store"}
	wait := s.wait
	if wait <= 0 {
		wait = DefaultCaptureWait
	}
	var want repl.GTIDSet
	if old.Position != "" {
		w, err := repl.ParseGTIDSet(s.flavor, old.Position)
		if err != nil {
			return info, fmt.Errorf("old master position %q: %w", old.Position, err)
		}
		want = w
	}
	if s.admin != nil {
		if captured, ok := s.tellDaemon(ctx, wait, &info); ok && s.holds(captured, want) {
			info.Settled, info.Last = true, captured
			return info, nil
		}
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	last, why, err := s.poll(wctx, want)
	if last != nil {
		info.Last = last.After.String()
	}
	info.Settled = why != ""
	info.Detail = joinNote(info.Detail, why)
	switch {
	case info.Settled:
		return info, nil
	case ctx.Err() != nil:
		return info, fmt.Errorf("waiting for the capture log: %w", ctx.Err())
	}
	if err != nil && !errors.Is(err, wctx.Err()) {
		info.Detail = joinNote(info.Detail, "reading the log: "+err.Error())
	}
	if old.Position != "" {
		return info, fmt.Errorf("the old master's final position %s is not captured after %s (last captured %s)",
			old.Position, wait, info.Last)
	}
	info.Detail = joinNote(info.Detail, fmt.Sprintf("not settled after %s: the old master's last transactions may be missing from the log", wait))
	return info, nil
}

// holds reports whether the captured set (text) contains want.
func (s *settler) holds(captured string, want repl.GTIDSet) bool {
	if want.IsEmpty() {
		return true
	}
	c, err := repl.ParseGTIDSet(s.flavor, captured)
	return err == nil && want.Subset(c)
}

// tellDaemon switches the daemon's streamer to the new master or, if it
// refuses, asks it to drain the old one; ok means the daemon recorded the
// end of capture from the old master, and captured is the captured set
// then. Both calls are bounded by wait; failures are warnings (the log is
// read directly afterwards).
func (s *settler) tellDaemon(ctx context.Context, wait time.Duration, info *CaptureInfo) (captured string, ok bool) {
	info.Mode = "daemon"
	actx, cancel := context.WithTimeout(ctx, wait+time.Second) // the daemon answers at wait
	defer cancel()
	sw, err := s.admin.SwitchMaster(actx, s.cluster, s.old, s.new, s.uid, wait)
	if err == nil {
		info.Switched = true
		info.Detail = fmt.Sprintf("streamer switched from %s to %s (connected at failure %v, captured %s)",
			sw.PreviousMaster, sw.Master, sw.ConnectedAtFailure, sw.Captured)
		return sw.Captured, true
	}
	s.log.Warn("capture daemon did not switch to the new master", "err", err)
	info.Detail = "streamer not switched to the new master: " + err.Error()
	dr, err := s.admin.Drain(actx, s.cluster, s.old, wait)
	if err != nil {
		s.log.Warn("capture daemon did not drain the old master", "err", err)
		info.Detail = joinNote(info.Detail, "nor drained: "+err.Error())
		return "", false
	}
	info.Detail = joinNote(info.Detail, "drained: "+dr.Summary)
	return dr.Position, true
}

// poll reads the log's tail until settledBy says why it is settled or ctx
// ends; it returns the last record read and the last error.
func (s *settler) poll(ctx context.Context, want repl.GTIDSet) (*capture.Record, string, error) {
	var last *capture.Record
	var lastErr error
	for {
		rec, ok, err := s.lastRecord(ctx)
		switch {
		case err != nil:
			lastErr = err
		case ok:
			last = &rec
			if why := s.settledBy(rec, want); why != "" {
				return last, why, nil
			}
		}
		t := time.NewTimer(capturePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			if lastErr == nil {
				lastErr = ctx.Err()
			}
			return last, "", lastErr
		case <-t.C:
		}
	}
}

// lastRecord opens the log afresh (a read-only local store is a snapshot)
// and reads its last record.
func (s *settler) lastRecord(ctx context.Context) (capture.Record, bool, error) {
	st, err := s.open(ctx)
	if err != nil {
		return capture.Record{}, false, err
	}
	defer st.Close()
	return st.Last(ctx)
}

func (s *settler) settledBy(rec capture.Record, want repl.GTIDSet) string {
	switch {
	case !want.IsEmpty() && want.Subset(rec.After):
		return "the old master's final position is captured"
	case rec.Kind == capture.KindMasterSwitch:
		return "the streamer switched to " + rec.To
	case want.IsEmpty() && rec.Kind == capture.KindMasterState && (!rec.Connected || rec.Failed):
		// Not compared with s.old: the streamer may name the master by
		// another spelling than Orchestrator; it has one master at a time.
		return "the streamer recorded losing its master " + rec.Master
	}
	return ""
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
