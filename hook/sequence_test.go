package hook

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/hook/route"
	"github.com/recoup-dev/recoup/repl"
)

// before fails unless call a was recorded, and before b.
func before(t *testing.T, rec *recorder, a, b string) {
	t.Helper()
	ia, ib := rec.index(a), rec.index(b)
	if ia < 0 || ib < 0 || ia > ib {
		t.Errorf("want %s before %s; calls %v", a, b, rec.list())
	}
}

func absent(t *testing.T, rec *recorder, calls ...string) {
	t.Helper()
	for _, c := range calls {
		if rec.index(c) >= 0 {
			t.Errorf("%s was called; calls %v", c, rec.list())
		}
	}
}

func TestSequenceOrder(t *testing.T) {
	f := newFakes()
	sum := f.sequence(Budget{Deadline: 5 * time.Second}).Run(t.Context())
	if sum.Outcome != OutcomeDone || sum.ExitCode() != 0 || !sum.WritesOpen || !sum.Compensated {
		t.Fatalf("outcome %s exit %d open %v compensated %v; errors %v", sum.Outcome, sum.ExitCode(), sum.WritesOpen, sum.Compensated, sum.Errors)
	}
	if got := f.rec.list()[0]; got != "new.fence" {
		t.Errorf("first call %s, want new.fence", got)
	}
	chain := []string{"new.fence", "new.lock", "capture.settle", "comp.compensate", "route.switch", "route.verify",
		"new.detach", "new.unfence", "comp.report", "runs.save", "new.unlock"}
	for i := 1; i < len(chain); i++ {
		before(t, f.rec, chain[i-1], chain[i])
	}
	before(t, f.rec, "old.fence", "capture.settle")
	before(t, f.rec, "route.fence", "capture.settle")
	if !sum.Fence.WasWritable || !sum.OldFence.Reached || sum.OldFence.Killed != 2 {
		t.Errorf("fence %+v old %+v", sum.Fence, sum.OldFence)
	}
	if sum.CompensatedAt.IsZero() || sum.WritesOpenedAt.Before(sum.CompensatedAt) {
		t.Errorf("compensated at %v, writes opened at %v", sum.CompensatedAt, sum.WritesOpenedAt)
	}
	names := []string{}
	for _, st := range sum.Steps {
		names = append(names, st.Name)
	}
	for _, want := range []string{StepFenceNew, StepFenceOld, StepLock, StepCapture, StepCompensate, StepRoute, StepVerify, StepDetach, StepUnfence} {
		if !slices.Contains(names, want) {
			t.Errorf("summary steps %v lack %s", names, want)
		}
	}
	var out bytes.Buffer
	if err := sum.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DONE", "writes open", "/reports/x.json", "2 applied", "fake probe"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printed summary lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "\n"); n > 40 {
		t.Errorf("summary is %d lines, want one screen", n)
	}
}

// TestSequenceCompensationUnfinished covers the deadline policies and a
// compensation or capture failure.
func TestSequenceCompensationUnfinished(t *testing.T) {
	cases := []struct {
		name     string
		policy   DeadlinePolicy
		setup    func(*fakes)
		want     Outcome
		open     bool
		expired  bool
		notCalls []string
	}{
		{"deadline stay-fenced", StayFenced, func(f *fakes) { f.comp.block = true }, OutcomeStayFenced, false, true,
			[]string{"route.switch", "new.unfence", "new.detach"}},
		{"deadline open-writes", OpenWrites, func(f *fakes) { f.comp.block = true }, OutcomeOpenedUncompensated, true, true, nil},
		{"error stay-fenced", StayFenced, func(f *fakes) { f.comp.err = errBoom }, OutcomeStayFenced, false, false,
			[]string{"route.switch", "new.unfence"}},
		{"capture error stay-fenced", StayFenced, func(f *fakes) { f.cap.err = errBoom }, OutcomeStayFenced, false, false,
			[]string{"comp.compensate", "route.switch", "new.unfence"}},
		{"error open-writes", OpenWrites, func(f *fakes) { f.comp.err = errBoom }, OutcomeOpenedUncompensated, true, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakes()
			tc.setup(f)
			start := time.Now()
			sum := f.sequence(Budget{Deadline: 150 * time.Millisecond, OnDeadline: tc.policy, Grace: time.Second}).Run(t.Context())
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("run took %s, beyond deadline+grace", took)
			}
			if sum.Outcome != tc.want || sum.WritesOpen != tc.open || sum.DeadlineExpired != tc.expired || sum.ExitCode() == 0 {
				t.Fatalf("outcome %s open %v expired %v exit %d; want %s open %v expired %v, non-zero exit; errors %v",
					sum.Outcome, sum.WritesOpen, sum.DeadlineExpired, sum.ExitCode(), tc.want, tc.open, tc.expired, sum.Errors)
			}
			absent(t, f.rec, tc.notCalls...)
			if tc.open {
				before(t, f.rec, "comp.compensate", "route.switch")
				before(t, f.rec, "route.verify", "new.unfence")
			}
			if len(sum.Left) == 0 {
				t.Error("the summary does not say what is left")
			}
			if f.runs.s == nil || f.runs.s.Outcome != tc.want {
				t.Errorf("saved record %+v", f.runs.s)
			}
		})
	}
}

func TestSequenceRerunVerifiesOnly(t *testing.T) {
	f := newFakes()
	first := f.sequence(Budget{}).Run(t.Context())
	if first.ExitCode() != 0 {
		t.Fatalf("first run: %s %v", first.Outcome, first.Errors)
	}
	f.rec.calls = nil
	sum := f.sequence(Budget{}).Run(t.Context())
	if sum.Outcome != OutcomeAlreadyDone || sum.ExitCode() != 0 || !sum.Rerun || sum.FirstRun == nil {
		t.Fatalf("rerun outcome %s exit %d rerun %v; errors %v", sum.Outcome, sum.ExitCode(), sum.Rerun, sum.Errors)
	}
	if got, want := f.rec.list(), []string{"new.writable", "new.identity", "route.verify"}; !slices.Equal(got, want) {
		t.Errorf("rerun calls %v, want %v", got, want)
	}
	// The verification can fail: the master was closed since.
	f.new.writable = false
	f.rec.calls = nil
	if sum := f.sequence(Budget{}).Run(t.Context()); sum.Outcome != OutcomeFailed || sum.ExitCode() == 0 {
		t.Errorf("rerun on a read-only master: %s exit %d", sum.Outcome, sum.ExitCode())
	}
	absent(t, f.rec, "new.fence", "comp.compensate", "route.switch")
}

// TestSequenceLockLoser: a second hook fenced an open master, then waited
// for the lock while the first finished; it reopens and verifies.
func TestSequenceLockLoser(t *testing.T) {
	f := newFakes()
	done := &Summary{Cluster: "shop", NewMaster: "127.0.0.1:33308", WritesOpen: true, Compensated: true, Outcome: OutcomeDone}
	f.new.lockHook = func() { f.runs.s = done }
	sum := f.sequence(Budget{}).Run(t.Context())
	if sum.Outcome != OutcomeAlreadyDone || sum.ExitCode() != 0 {
		t.Fatalf("loser outcome %s exit %d; errors %v", sum.Outcome, sum.ExitCode(), sum.Errors)
	}
	before(t, f.rec, "new.lock", "new.unfence")
	before(t, f.rec, "new.unfence", "route.verify")
	absent(t, f.rec, "comp.compensate", "route.switch", "runs.save")
	// When the winner was still mid-run (the master read-only on entry),
	// the loser leaves read_only alone.
	f = newFakes()
	f.new.writable = false
	f.new.lockHook = func() { f.runs.s = done; f.new.writable = true }
	if sum := f.sequence(Budget{}).Run(t.Context()); sum.ExitCode() != 0 {
		t.Fatalf("loser: %s %v", sum.Outcome, sum.Errors)
	}
	absent(t, f.rec, "new.unfence", "comp.compensate")
}

func TestSequenceFailures(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(*fakes)
		want   Outcome
		exit0  bool
		absent []string
	}{
		{"new master unreachable", func(f *fakes) { f.new.fenceErr = errBoom }, OutcomeFailed, false,
			[]string{"new.lock", "old.fence", "comp.compensate", "new.unfence"}},
		{"lock timeout", func(f *fakes) { f.new.lockErr = ErrLockTimeout }, OutcomeStayFenced, false,
			[]string{"comp.compensate", "new.unfence"}},
		{"proxy switch fails", func(f *fakes) { f.route.switchErr = errBoom }, OutcomeStayFenced, false,
			[]string{"new.unfence"}},
		{"probe fails", func(f *fakes) { f.route.verifyErr = errBoom }, OutcomeStayFenced, false,
			[]string{"new.unfence"}},
		{"old master unreachable", func(f *fakes) { f.old.err = errBoom }, OutcomeDone, true, nil},
		{"detach fails", func(f *fakes) { f.new.detachErr = errBoom }, OutcomeDone, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakes()
			tc.setup(f)
			sum := f.sequence(Budget{Deadline: 2 * time.Second}).Run(t.Context())
			if sum.Outcome != tc.want || (sum.ExitCode() == 0) != tc.exit0 {
				t.Fatalf("outcome %s exit %d, want %s exit0 %v; errors %v", sum.Outcome, sum.ExitCode(), tc.want, tc.exit0, sum.Errors)
			}
			absent(t, f.rec, tc.absent...)
		})
	}
}

func TestSequenceNoProxyNoCapture(t *testing.T) {
	f := newFakes()
	seq := f.sequence(Budget{})
	seq.Route, seq.Capture, seq.Old = nil, nil, nil
	sum := seq.Run(t.Context())
	if sum.ExitCode() != 0 || len(sum.Warnings) == 0 {
		t.Fatalf("outcome %s warnings %v errors %v", sum.Outcome, sum.Warnings, sum.Errors)
	}
	before(t, f.rec, "comp.compensate", "new.unfence")
}

// TestRunFileRerun uses the file record with the real fixture's recovery
// UID (it holds a ':').
func TestRunFileRerun(t *testing.T) {
	fx := loadFixture(t)
	in, err := ParseInput(fx.postArgs, fx.postEnv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rf := NewRunFile(dir, in.FailureClusterAlias, in.RecoveryUID)
	if filepath.Dir(filepath.Dir(rf.Path)) != dir || strings.ContainsAny(filepath.Base(rf.Path), ":") {
		t.Fatalf("run file path %s", rf.Path)
	}
	f := newFakes()
	succ, _ := in.Successor()
	seq := f.sequence(Budget{})
	seq.Runs, seq.NewMaster, seq.RecoveryUID = rf, succ.String(), in.RecoveryUID
	if sum := seq.Run(t.Context()); sum.ExitCode() != 0 {
		t.Fatalf("first run %s %v", sum.Outcome, sum.Errors)
	}
	f.rec.calls = nil
	seq2 := f.sequence(Budget{})
	seq2.Runs, seq2.NewMaster = NewRunFile(dir, in.FailureClusterAlias, in.RecoveryUID), succ.String()
	if sum := seq2.Run(t.Context()); sum.Outcome != OutcomeAlreadyDone {
		t.Fatalf("second run %s", sum.Outcome)
	}
	absent(t, f.rec, "new.fence", "comp.compensate")
	// Another recovery of the same cluster is not "done".
	other := NewRunFile(dir, in.FailureClusterAlias, in.RecoveryUID+"x")
	if s, err := other.Load(); err != nil || s != nil {
		t.Errorf("other recovery: %v %v", s, err)
	}
}

func TestBudgetDefaults(t *testing.T) {
	b := Budget{}.WithDefaults()
	if b.Deadline != 30*time.Second || b.OnDeadline != StayFenced || b.LockTimeout != b.Deadline || b.Limit() != 35*time.Second {
		t.Errorf("defaults %+v limit %s", b, b.Limit())
	}
}

func TestRunRespectsParentCancel(t *testing.T) {
	f := newFakes()
	f.comp.block = true
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	sum := f.sequence(Budget{Deadline: time.Minute}).Run(ctx)
	if sum.Outcome != OutcomeStayFenced || sum.WritesOpen {
		t.Errorf("cancelled run: %s open %v", sum.Outcome, sum.WritesOpen)
	}
}

// TestNewFailoverFromFixture builds the real sequence from what
// Orchestrator 3.2.6 passed (nothing is contacted).
func TestNewFailoverFromFixture(t *testing.T) {
	fx := loadFixture(t)
	in, err := ParseInput(fx.postArgs, fx.postEnv)
	if err != nil {
		t.Fatal(err)
	}
	if a := in.Action(); a.Kind != ActionCompensate {
		t.Fatalf("fixture action %s: %s", a.Kind, a.Reason)
	}
	var dialed []string
	env := Env{Flavor: repl.MariaDB, StateDir: t.TempDir(), Router: &nopRouter{},
		Connect: func(addr string, timeout time.Duration) (*sql.DB, error) {
			dialed = append(dialed, addr)
			mc := mysql.NewConfig()
			mc.Net, mc.Addr, mc.Timeout = "tcp", addr, timeout
			c, err := mysql.NewConnector(mc)
			if err != nil {
				return nil, err
			}
			return sql.OpenDB(c), nil
		},
		OpenStore: func(context.Context) (capture.Store, error) { return nil, errBoom }}
	seq, closeSeq, err := NewFailover(in, env)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSeq()
	if seq.NewMaster != "127.0.0.1:33308" || seq.OldMaster != "127.0.0.1:33306" || seq.Cluster != "127.0.0.1:33306" ||
		seq.Trigger != "failover" || seq.Old == nil || seq.Runs == nil || seq.Route == nil {
		t.Fatalf("sequence %+v", seq)
	}
	if !slices.Equal(dialed, []string{"127.0.0.1:33308", "127.0.0.1:33306"}) {
		t.Errorf("connections built for %v", dialed)
	}
	if got := seq.Route.(*proxyRoute).readers; !slices.Equal(got, []string{"127.0.0.1:33307"}) {
		t.Errorf("readers %v, want the replica that stays", got)
	}
	if nm := seq.New.(*newMaster); nm.lock != "recoup:127.0.0.1_3a33306" {
		t.Errorf("lock name %q", nm.lock)
	}
	pre := in
	pre.HookName = HookPreFailover
	if a := pre.Action(); a.Kind != ActionPreFailover {
		t.Errorf("pre-failover action %s", a.Kind)
	}
}

// nopRouter is a route.Router that does nothing (NewFailover only stores it).
type nopRouter struct{}

func (nopRouter) Preflight(context.Context) ([]string, error) { return nil, nil }
func (nopRouter) State(context.Context) (route.State, error)  { return route.State{}, nil }
func (nopRouter) FenceWriter(context.Context) error           { return nil }
func (nopRouter) SetWriter(context.Context, string) error     { return nil }
func (nopRouter) SetReaders(context.Context, []string) error  { return nil }
func (nopRouter) Persist(context.Context) error               { return nil }
func (nopRouter) Verify(context.Context, string) error        { return nil }
func (nopRouter) Close() error                                { return nil }

// slowSwitch is a route whose first Switch outlasts the deadline.
type slowSwitch struct {
	*fakeRoute
	calls int
}

func (s *slowSwitch) Switch(ctx context.Context) error {
	s.calls++
	if s.calls == 1 {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.fakeRoute.Switch(ctx)
}

// TestSequenceDeadlineWhileRouting: compensation finished but the
// deadline expires while the proxy is switched. stay-fenced keeps writes
// closed; open-writes retries within the grace period and opens them.
func TestSequenceDeadlineWhileRouting(t *testing.T) {
	for _, policy := range []DeadlinePolicy{StayFenced, OpenWrites} {
		t.Run(string(policy), func(t *testing.T) {
			f := newFakes()
			seq := f.sequence(Budget{Deadline: 200 * time.Millisecond, Grace: 2 * time.Second, OnDeadline: policy})
			slow := &slowSwitch{fakeRoute: f.route}
			seq.Route = slow
			sum := seq.Run(t.Context())
			if !sum.DeadlineExpired || !sum.Compensated {
				t.Errorf("expired %v compensated %v", sum.DeadlineExpired, sum.Compensated)
			}
			switch policy {
			case StayFenced:
				if sum.Outcome != OutcomeStayFenced || sum.WritesOpen || sum.ExitCode() == 0 || slow.calls != 1 {
					t.Errorf("outcome %s open %v switch calls %d", sum.Outcome, sum.WritesOpen, slow.calls)
				}
				absent(t, f.rec, "new.unfence")
			case OpenWrites:
				if sum.Outcome != OutcomeDone || !sum.WritesOpen || sum.ExitCode() != 0 || slow.calls != 2 {
					t.Errorf("outcome %s open %v switch calls %d errors %v", sum.Outcome, sum.WritesOpen, slow.calls, sum.Errors)
				}
			}
		})
	}
}
