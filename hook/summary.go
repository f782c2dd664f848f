package hook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/recoup-dev/recoup/applier"
	"github.com/recoup-dev/recoup/conflict"
)

// Outcome is how a hook run ended.
type Outcome string

const (
	// OutcomeDone: writes are open on a compensated, routed new master.
	OutcomeDone Outcome = "done"
	// OutcomeAlreadyDone: a rerun of a recovery that was done; the route
	// and the open master were verified again, nothing changed.
	OutcomeAlreadyDone Outcome = "already-done"
	// OutcomeStayFenced: compensation or routing did not finish; the new
	// master stays read-only (the report says what is left).
	OutcomeStayFenced Outcome = "stay-fenced"
	// OutcomeOpenedUncompensated: on_deadline open-writes opened writes
	// although compensation did not finish.
	OutcomeOpenedUncompensated Outcome = "open-writes-uncompensated"
	// OutcomeFailed: the hook could not act (e.g. the new master is
	// unreachable) or a rerun's verification failed.
	OutcomeFailed Outcome = "failed"
)

// Step is one timed step of the sequence.
type Step struct {
	Name    string  `json:"name"`
	StartMS float64 `json:"start_ms"` // from hook start
	TookMS  float64 `json:"took_ms"`
	Error   string  `json:"error,omitempty"`
	Note    string  `json:"note,omitempty"`
}

// Summary is what a hook run did: printed for Orchestrator's log and
// saved as the run's state record (see Runs).
type Summary struct {
	Cluster     string    `json:"cluster"`
	RecoveryUID string    `json:"recovery_uid"`
	OldMaster   string    `json:"old_master"`
	NewMaster   string    `json:"new_master"`
	Trigger     string    `json:"trigger,omitempty"`
	Started     time.Time `json:"started"`
	Outcome     Outcome   `json:"outcome"`
	// WritesOpen: the new master is writable and the proxy routes writes
	// to it. Compensated: every transaction the capture log holds and the
	// new master lacked was decided (applied, or reported as a conflict).
	WritesOpen  bool `json:"writes_open"`
	Compensated bool `json:"compensated"`
	// WritesOpenMS is the time from hook start to writes open.
	WritesOpenMS float64 `json:"writes_open_ms,omitempty"`
	// CompensatedAt and WritesOpenedAt are wall-clock instants, for
	// checking that no client write landed before compensation ended.
	CompensatedAt   time.Time `json:"compensated_at,omitzero"`
	WritesOpenedAt  time.Time `json:"writes_opened_at,omitzero"`
	Deadline        string    `json:"deadline"`
	OnDeadline      string    `json:"on_deadline"`
	DeadlineExpired bool      `json:"deadline_expired"`

	Fence     FenceInfo   `json:"fence"`
	OldFence  OldFence    `json:"old_master_fence"`
	Capture   CaptureInfo `json:"capture"`
	Result    *ResultInfo `json:"compensation,omitempty"`
	Reports   []string    `json:"reports,omitempty"`
	Steps     []Step      `json:"steps"`
	Left      []string    `json:"left,omitempty"` // what is left to do by hand
	Warnings  []string    `json:"warnings,omitempty"`
	Errors    []string    `json:"errors,omitempty"`
	Verified  string      `json:"verified,omitempty"` // how the route was verified
	Rerun     bool        `json:"rerun,omitempty"`
	FirstRun  *Summary    `json:"first_run,omitempty"` // a rerun's record of the run that did the work
	DurationS float64     `json:"duration_s"`
}

// ResultInfo is the part of an applier.Result the summary shows.
type ResultInfo struct {
	Counts      applier.Counts `json:"counts"`
	Missing     string         `json:"missing"`
	Capture     string         `json:"capture_state"`
	LastGTID    string         `json:"capture_last_gtid,omitempty"`
	Collisions  int            `json:"collisions"`
	Conflicts   []string       `json:"conflicts,omitempty"` // GTIDs, at most maxListed
	NewGTIDs    []string       `json:"new_gtids,omitempty"` // "old -> new", at most maxListed
	NotApplied  []string       `json:"not_applied,omitempty"`
	TotalMS     float64        `json:"total_ms"`
	Error       string         `json:"error,omitempty"`
	StartOffset int64          `json:"start_offset"`
}

const maxListed = 10

// NewResultInfo condenses an applier result.
func NewResultInfo(res *applier.Result) *ResultInfo {
	if res == nil {
		return nil
	}
	ri := &ResultInfo{Counts: res.Counts, Missing: res.Missing, Capture: res.Capture.State,
		LastGTID: res.Capture.LastGTID, Collisions: len(res.Collisions), TotalMS: res.Timings.TotalMS,
		Error: res.Error, StartOffset: res.StartOffset}
	for _, t := range res.Txns {
		switch {
		case t.NewGTID != "":
			ri.NewGTIDs = appendListed(ri.NewGTIDs, t.GTID+" -> "+t.NewGTID)
		case t.Applied || t.Verdict == conflict.AlreadyApplied:
		case t.Verdict == conflict.Conflict || t.Verdict == conflict.ApplyOverwrite:
			ri.Conflicts = appendListed(ri.Conflicts, t.GTID)
		default:
			ri.NotApplied = appendListed(ri.NotApplied, t.GTID+" ("+string(t.Verdict)+")")
		}
	}
	return ri
}

// appendListed appends s unless the list is full, then marks it cut.
func appendListed(l []string, s string) []string {
	switch {
	case len(l) < maxListed:
		return append(l, s)
	case len(l) == maxListed:
		return append(l, "...")
	}
	return l
}

// ExitCode is the process exit status for the outcome: 0 only when
// writes are open on a compensated master.
func (s *Summary) ExitCode() int {
	if (s.Outcome == OutcomeDone || s.Outcome == OutcomeAlreadyDone) && s.WritesOpen && s.Compensated {
		return 0
	}
	return 1
}

func (s *Summary) warn(format string, args ...any) {
	s.Warnings = append(s.Warnings, fmt.Sprintf(format, args...))
}

func (s *Summary) left(format string, args ...any) {
	s.Left = append(s.Left, fmt.Sprintf(format, args...))
}

// Print writes the one-screen summary for Orchestrator's log.
func (s *Summary) Print(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("recoup hook: cluster %s, recovery %s: %s", s.Cluster, s.RecoveryUID, strings.ToUpper(string(s.Outcome)))
	p("  failover      %s -> %s (%s)", s.OldMaster, s.NewMaster, s.Trigger)
	switch {
	case s.WritesOpen && s.Rerun:
		p("  writes open   verified again by this run (deadline %s, on_deadline %s)", s.Deadline, s.OnDeadline)
	case s.WritesOpen:
		p("  writes open   %.0f ms after hook start (deadline %s, on_deadline %s)", s.WritesOpenMS, s.Deadline, s.OnDeadline)
	case s.Outcome == OutcomeFailed:
		p("  writes        NOT known to be open: see the errors below (deadline %s, on_deadline %s, expired %v)",
			s.Deadline, s.OnDeadline, s.DeadlineExpired)
	default:
		p("  writes        CLOSED: the new master stays read-only (deadline %s, on_deadline %s, expired %v)",
			s.Deadline, s.OnDeadline, s.DeadlineExpired)
	}
	if s.Rerun && s.FirstRun != nil {
		p("  first run     %s at %s, writes open after %.0f ms", s.FirstRun.Outcome,
			s.FirstRun.Started.Format(time.RFC3339), s.FirstRun.WritesOpenMS)
	}
	src := s
	if s.Rerun && s.FirstRun != nil {
		src = s.FirstRun
	}
	src.printWork(p)
	for _, st := range s.Steps {
		line := fmt.Sprintf("  step %-12s +%6.0f ms %7.1f ms", st.Name, st.StartMS, st.TookMS)
		if st.Error != "" {
			line += "  ERROR " + st.Error
		} else if st.Note != "" {
			line += "  " + st.Note
		}
		p("%s", line)
	}
	for _, l := range [][2]any{{"warning", s.Warnings}, {"error", s.Errors}, {"LEFT TO DO", s.Left}} {
		for _, m := range l[1].([]string) {
			p("  %-12s %s", l[0], m)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// printWork prints what the run found and did.
func (s *Summary) printWork(p func(string, ...any)) {
	f := s.Fence
	p("  new master    %s, was writable on entry: %v, was replicating: %v", f.Identity, f.WasWritable, f.WasReplicating)
	o := s.OldFence
	switch {
	case o.Reached:
		p("  old master    fenced (read_only), %d client connections killed, position %s", o.Killed, o.Position)
	case o.Error != "":
		p("  old master    not reached: %s", o.Error)
	}
	p("  capture       %s", s.Capture)
	if r := s.Result; r != nil {
		c := r.Counts
		p("  missing       %d transactions (%s), capture %s", c.Missing, orNone(r.Missing), r.Capture)
		p("  restored      %d applied, %d overwritten, %d already applied, %d new GTIDs, %d rows",
			c.Applied, c.Overwritten, c.AlreadyApplied, c.NewGTIDs, c.Rows)
		p("  conflicts     %d conflicts, %d aborted, %d failed, %d GTID collisions",
			c.Conflicts, c.Aborted, c.Failed, r.Collisions)
		if len(r.Conflicts) > 0 {
			p("  conflicting   %s", strings.Join(r.Conflicts, " "))
		}
		for _, g := range r.NewGTIDs {
			p("  new GTID      %s", g)
		}
		for _, g := range r.NotApplied {
			p("  not applied   %s", g)
		}
	}
	for _, path := range s.Reports {
		p("  report        %s", path)
	}
	if s.Verified != "" {
		p("  route         %s", s.Verified)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Runs records hook runs so that a rerun of the same recovery finds the
// work done (see Sequence).
type Runs interface {
	// Load returns the saved summary of this recovery, or nil.
	Load() (*Summary, error)
	// Save records the summary.
	Save(s *Summary) error
}

// RunFile keeps each recovery's summary as a JSON file under
// Dir/<SafeName(cluster)>/hook-<SafeName(recovery UID)>.json, written
// atomically (temporary file, fsync, rename).
type RunFile struct {
	Path string
}

// NewRunFile returns the run record of one recovery under dir.
func NewRunFile(dir, cluster, recoveryUID string) *RunFile {
	return &RunFile{Path: filepath.Join(dir, SafeName(cluster), "hook-"+SafeName(recoveryUID)+".json")}
}

// Load implements Runs.
func (f *RunFile) Load() (*Summary, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading hook run record: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("hook run record %s: %w", f.Path, err)
	}
	return &s, nil
}

// Save implements Runs.
func (f *RunFile) Save(s *Summary) error {
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o750); err != nil {
		return fmt.Errorf("saving hook run record: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("saving hook run record: %w", err)
	}
	return writeFileAtomic(f.Path, b)
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory, fsynced before the rename.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name()) // best effort: the write already failed
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
