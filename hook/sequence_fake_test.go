package hook

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// recorder keeps the order in which fake steps were called.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(c string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// index is the position of call c, or -1.
func (r *recorder) index(c string) int { return slices.Index(r.list(), c) }

// fakeNew is a NewMaster whose state is two booleans.
type fakeNew struct {
	rec       *recorder
	writable  bool
	fenceErr  error
	detachErr error
	// lockHook runs inside Lock before it returns (a racing winner).
	lockHook func()
	lockErr  error
	id       Identity
}

func (f *fakeNew) Fence(ctx context.Context) (FenceInfo, error) {
	f.rec.add("new.fence")
	if f.fenceErr != nil {
		return FenceInfo{}, f.fenceErr
	}
	fi := FenceInfo{WasWritable: f.writable, Identity: f.id}
	f.writable = false
	return fi, nil
}

type fakeUnlock struct{ rec *recorder }

func (u fakeUnlock) Release() error { u.rec.add("new.unlock"); return nil }

func (f *fakeNew) Lock(ctx context.Context, _ time.Duration) (Unlocker, error) {
	f.rec.add("new.lock")
	if f.lockHook != nil {
		f.lockHook()
	}
	if f.lockErr != nil {
		return nil, f.lockErr
	}
	return fakeUnlock{f.rec}, nil
}

func (f *fakeNew) Detach(ctx context.Context) (bool, error) {
	f.rec.add("new.detach")
	return true, f.detachErr
}

func (f *fakeNew) Unfence(ctx context.Context) error {
	f.rec.add("new.unfence")
	if err := ctx.Err(); err != nil {
		return err
	}
	f.writable = true
	return nil
}

func (f *fakeNew) Writable(ctx context.Context) (bool, error) {
	f.rec.add("new.writable")
	return f.writable, nil
}

func (f *fakeNew) Identity(ctx context.Context) (Identity, error) {
	f.rec.add("new.identity")
	return f.id, nil
}

type fakeOld struct {
	rec *recorder
	err error
}

func (f *fakeOld) Fence(ctx context.Context) (OldFence, error) {
	f.rec.add("old.fence")
	if f.err != nil {
		return OldFence{}, f.err
	}
	return OldFence{Reached: true, Killed: 2, Position: "0-1-10"}, nil
}

type fakeCapture struct {
	rec *recorder
	err error
}

func (f *fakeCapture) Settle(ctx context.Context, old OldFence) (CaptureInfo, error) {
	f.rec.add("capture.settle")
	return CaptureInfo{Mode: "store", Settled: f.err == nil}, f.err
}

// fakeComp compensates instantly, fails, or blocks until ctx ends.
type fakeComp struct {
	rec   *recorder
	err   error
	block bool
}

func (f *fakeComp) Compensate(ctx context.Context) (*ResultInfo, error) {
	f.rec.add("comp.compensate")
	if f.block {
		<-ctx.Done()
		return &ResultInfo{Error: ctx.Err().Error()}, ctx.Err()
	}
	ri := &ResultInfo{Missing: "0-1-9-10"}
	ri.Counts.Missing, ri.Counts.Applied = 2, 2
	return ri, f.err
}

func (f *fakeComp) WriteReport(sum *Summary) ([]string, error) {
	f.rec.add("comp.report")
	return []string{"/reports/x.json"}, nil
}

type fakeRoute struct {
	rec       *recorder
	switchErr error
	verifyErr error
}

func (f *fakeRoute) FenceWriter(ctx context.Context) error { f.rec.add("route.fence"); return nil }

func (f *fakeRoute) Switch(ctx context.Context) error {
	f.rec.add("route.switch")
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.switchErr
}

func (f *fakeRoute) Verify(ctx context.Context, want Identity) (string, error) {
	f.rec.add("route.verify")
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return "fake probe", f.verifyErr
}

// memRuns is Runs in memory.
type memRuns struct {
	rec *recorder
	mu  sync.Mutex
	s   *Summary
}

func (m *memRuns) Load() (*Summary, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.s, nil
}

func (m *memRuns) Save(s *Summary) error {
	m.rec.add("runs.save")
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *s
	m.s = &c
	return nil
}

// fakes is one set of fakes sharing a recorder.
type fakes struct {
	rec   *recorder
	new   *fakeNew
	old   *fakeOld
	cap   *fakeCapture
	comp  *fakeComp
	route *fakeRoute
	runs  *memRuns
}

func newFakes() *fakes {
	rec := &recorder{}
	return &fakes{rec: rec, new: &fakeNew{rec: rec, writable: true, id: Identity{ServerID: 3, Hostname: "db2", Port: 33308}},
		old: &fakeOld{rec: rec}, cap: &fakeCapture{rec: rec}, comp: &fakeComp{rec: rec},
		route: &fakeRoute{rec: rec}, runs: &memRuns{rec: rec}}
}

func (f *fakes) sequence(b Budget) *Sequence {
	return &Sequence{Cluster: "shop", RecoveryUID: "1:abc", OldMaster: "127.0.0.1:33306", NewMaster: "127.0.0.1:33308",
		Budget: b, New: f.new, Old: f.old, Capture: f.cap, Compensator: f.comp, Route: f.route, Runs: f.runs}
}

var errBoom = errors.New("boom")
