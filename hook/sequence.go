package hook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// The sequence's steps, as they appear in logs and in the summary.
const (
	StepFenceNew   = "fence-new"
	StepFenceOld   = "fence-old"
	StepLock       = "lock"
	StepCapture    = "capture"
	StepCompensate = "compensate"
	StepRoute      = "route"
	StepVerify     = "verify"
	StepDetach     = "detach"
	StepUnfence    = "unfence"
)

// NewMaster is what the sequence does on the promoted server.
type NewMaster interface {
	// Fence makes the server read-only (read_only=ON) and stops its
	// replication threads if they run; it reports the state it found.
	Fence(ctx context.Context) (FenceInfo, error)
	// Lock takes the cluster lock, waiting at most timeout.
	Lock(ctx context.Context, timeout time.Duration) (Unlocker, error)
	// Detach removes the replication configuration (RESET SLAVE ALL) if
	// any; it reports whether there was one.
	Detach(ctx context.Context) (bool, error)
	// Unfence makes the server writable.
	Unfence(ctx context.Context) error
	// Writable reports whether read_only is OFF.
	Writable(ctx context.Context) (bool, error)
	// Identity is the server's own answer to who it is.
	Identity(ctx context.Context) (Identity, error)
}

// Unlocker releases a lock.
type Unlocker interface{ Release() error }

// FenceInfo is the new master's state when the hook fenced it.
type FenceInfo struct {
	Identity       Identity `json:"identity"`
	WasWritable    bool     `json:"was_writable"`
	WasReplicating bool     `json:"was_replicating"`
}

// OldMaster fences the failed master, best effort.
type OldMaster interface {
	// Fence sets read_only (and super_read_only on MySQL) and kills client
	// connections; it reports the master's final GTID position when it
	// could be read. An unreachable master is an error with Reached false.
	Fence(ctx context.Context) (OldFence, error)
}

// OldFence is what fencing the old master achieved.
type OldFence struct {
	Reached  bool   `json:"reached"`
	Killed   int    `json:"killed"`
	Position string `json:"position,omitempty"` // GTID set after the fence
	Error    string `json:"error,omitempty"`
}

// Capture makes sure the capture log holds what it can get from the old
// master, and points the streamer at the new master.
type Capture interface {
	// Settle waits (bounded) until capture holds everything it can get
	// from the old master. It returns an error only when compensation
	// must not proceed: the old master was reached and its final
	// position is not captured.
	Settle(ctx context.Context, old OldFence) (CaptureInfo, error)
}

// CaptureInfo says how the capture step went.
type CaptureInfo struct {
	Mode     string `json:"mode"` // "daemon" (admin API) or "store"
	Switched bool   `json:"streamer_switched"`
	Settled  bool   `json:"settled"`
	Last     string `json:"last_captured,omitempty"` // After of the log's last record
	Detail   string `json:"detail,omitempty"`
}

func (c CaptureInfo) String() string {
	s := fmt.Sprintf("%s, settled %v, streamer switched %v", c.Mode, c.Settled, c.Switched)
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	return s
}

// Compensator replays what the new master lacks and writes the report.
type Compensator interface {
	// Compensate returns the outcome even with an error (what was applied
	// before it stopped; nil if nothing ran).
	Compensate(ctx context.Context) (*ResultInfo, error)
	// WriteReport writes the DBA report of the last Compensate run, with
	// the hook's steps and timings from sum; it returns the files written.
	WriteReport(sum *Summary) ([]string, error)
}

// Route switches and verifies the SQL proxy.
type Route interface {
	// FenceWriter stops writes through the proxy (old master).
	FenceWriter(ctx context.Context) error
	// Switch points writes at the new master and reads at the remaining
	// replicas, and persists it.
	Switch(ctx context.Context) error
	// Verify checks that writes through the proxy reach the server whose
	// identity is want; it returns how it checked.
	Verify(ctx context.Context, want Identity) (string, error)
}

// DeadlinePolicy is what the hook does when compensation cannot finish
// within the deadline.
type DeadlinePolicy string

const (
	// StayFenced keeps the new master read-only; the hook exits non-zero
	// and the report says what is left (default).
	StayFenced DeadlinePolicy = "stay-fenced"
	// OpenWrites routes and opens writes anyway, within Budget.Grace; the
	// transactions not replayed are listed for `recoup compensate`.
	OpenWrites DeadlinePolicy = "open-writes"
)

// Budget bounds a hook run.
type Budget struct {
	// Deadline runs from hook start to writes open (default 30s).
	Deadline time.Duration
	// OnDeadline applies when compensation did not finish: the deadline
	// expired, or it failed.
	OnDeadline DeadlinePolicy
	// Grace is the time allowed after the deadline for the steps that
	// open writes (open-writes) and for saving the record (default 5s).
	Grace time.Duration
	// LockTimeout bounds the wait for the cluster lock (default: Deadline).
	LockTimeout time.Duration
	// OldMasterTimeout bounds fencing the old master (default 2s).
	OldMasterTimeout time.Duration
}

// Defaults.
const (
	DefaultDeadline         = 30 * time.Second
	DefaultGrace            = 5 * time.Second
	DefaultOldMasterTimeout = 2 * time.Second
)

// WithDefaults fills zero fields.
func (b Budget) WithDefaults() Budget {
	if b.Deadline <= 0 {
		b.Deadline = DefaultDeadline
	}
	if b.OnDeadline == "" {
		b.OnDeadline = StayFenced
	}
	if b.Grace <= 0 {
		b.Grace = DefaultGrace
	}
	if b.LockTimeout <= 0 {
		b.LockTimeout = b.Deadline
	}
	if b.OldMasterTimeout <= 0 {
		b.OldMasterTimeout = DefaultOldMasterTimeout
	}
	return b
}

// Limit is the longest a run can take: the process-wide bound.
func (b Budget) Limit() time.Duration {
	b = b.WithDefaults()
	return b.Deadline + b.Grace
}

// Sequence is one master failover as the hook drives it. Old, Capture
// and Route may be nil (no old master credentials, no capture wait, no
// proxy); Runs nil disables rerun detection (compensation stays
// idempotent).
type Sequence struct {
	Cluster     string
	RecoveryUID string
	OldMaster   string // host:port
	NewMaster   string // host:port
	Trigger     string
	Budget      Budget
	// Started is when the hook started (the process, for `recoup hook`):
	// the deadline and the writes-open time count from it (default: when
	// Run is called).
	Started time.Time

	New         NewMaster
	Old         OldMaster
	Capture     Capture
	Compensator Compensator
	Route       Route
	Runs        Runs
	Log         *slog.Logger
	// Clock returns the current time (default time.Now).
	Clock func() time.Time
}

// run is one execution of a Sequence.
type run struct {
	s     *Sequence
	log   *slog.Logger
	sum   *Summary
	start time.Time
	lock  Unlocker
}

func (s *Sequence) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

func (r *run) since() time.Duration { return r.s.now().Sub(r.start) }

// step runs f as the named step, timing and logging it.
func (r *run) step(ctx context.Context, name string, f func(context.Context) (string, error)) error {
	t := r.s.now()
	note, err := f(ctx)
	st := Step{Name: name, StartMS: ms(t.Sub(r.start)), TookMS: ms(r.s.now().Sub(t)), Note: note}
	if err != nil {
		st.Error = err.Error()
		r.sum.Errors = append(r.sum.Errors, name+": "+err.Error())
		r.log.Error("step failed", "step", name, "took_ms", st.TookMS, "err", err)
	} else {
		r.log.Info("step done", "step", name, "took_ms", st.TookMS, "note", note)
	}
	r.sum.Steps = append(r.sum.Steps, st)
	return err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// previous returns the saved summary of this recovery if it opened writes.
func (r *run) previous() *Summary {
	if r.s.Runs == nil {
		return nil
	}
	prev, err := r.s.Runs.Load()
	if err != nil {
		r.sum.warn("rerun detection: %v", err)
		return nil
	}
	if prev == nil || !prev.WritesOpen || prev.NewMaster != r.s.NewMaster {
		return nil
	}
	return prev
}

// save records the summary; a failure is a warning (the summary is
// printed anyway and compensation is idempotent).
func (r *run) save() {
	r.sum.DurationS = r.since().Seconds()
	if r.s.Runs == nil {
		return
	}
	if err := r.s.Runs.Save(r.sum); err != nil {
		r.sum.warn("%v", err)
	}
}

// graceCtx is the context of the steps that run after the deadline: a
// fresh Grace from now, still cancelled with the process.
func (r *run) graceCtx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(parent), r.s.Budget.Grace)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// isDeadline reports whether err comes from the deadline expiring.
func isDeadline(ctx context.Context, err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil
}
