package hook

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/recoup-dev/recoup/applier"
	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/hook/route"
	"github.com/recoup-dev/recoup/repl"
)

// Env is what a real failover needs besides the hook input: recoup's
// configuration for the cluster, resolved by cmd/recoup.
type Env struct {
	Flavor repl.Flavor
	Budget Budget
	// Connect opens a pool to addr (host:port) with the hook's
	// credentials, dialing within timeout. It must not connect yet.
	Connect func(addr string, timeout time.Duration) (*sql.DB, error)
	// OpenStore opens the cluster's capture log for reading.
	OpenStore func(ctx context.Context) (capture.Store, error)
	// Applier configures compensation (Flavor, Policy, BatchTxns,
	// Cluster, Logger); AllowWritable is ignored: the hook fences.
	Applier   applier.Options
	ReportDir string
	// StateDir holds the run records (see RunFile); "" disables rerun
	// detection.
	StateDir string
	// CaptureWait bounds the wait for the capture log to settle.
	CaptureWait time.Duration
	// Admin is the capture daemon's admin API; nil when it is not used.
	Admin *Admin
	// Router switches the proxy; nil when the cluster has none.
	Router route.Router
	// SetReaders: route the remaining replicas as readers.
	SetReaders bool
	// Probe checks the write path through the proxy.
	Probe Probe
	Log   *slog.Logger
	// Started is when the hook process started (see Sequence.Started).
	Started time.Time
}

// Probe is the write-path check: a connection to Addr (the proxy's
// writer address) must land on the new master.
type Probe struct {
	Addr     string
	Interval time.Duration // between attempts (default 50ms)
}

// connectTimeout bounds dialing the new master (the deadline bounds
// everything else).
const connectTimeout = 5 * time.Second

// NewFailover builds the Sequence for a compensate action. close releases
// its connections.
func NewFailover(in Input, env Env) (seq *Sequence, close func(), err error) {
	succ, ok := in.Successor()
	if !ok {
		return nil, nil, errors.New("no successor in the hook input")
	}
	if env.Connect == nil || env.OpenStore == nil {
		return nil, nil, errors.New("hook env: Connect and OpenStore are required")
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	newAddr, oldAddr := succ.String(), in.Failed().String()
	newDB, err := env.Connect(newAddr, connectTimeout)
	if err != nil {
		return nil, nil, fmt.Errorf("new master %s: %w", newAddr, err)
	}
	closers := []func() error{newDB.Close}
	close = func() {
		for _, c := range closers {
			_ = c() // nothing left to do with a close error at exit
		}
	}
	seq = &Sequence{Cluster: in.FailureClusterAlias, RecoveryUID: in.RecoveryUID, OldMaster: oldAddr,
		NewMaster: newAddr, Trigger: TriggerOf(in.Command).String(), Budget: env.Budget, Log: log, Started: env.Started,
		New: &newMaster{srv: NewServer(newAddr, env.Flavor, newDB, log), lock: LockName(in.FailureClusterAlias)}}
	if oldDB, err := env.Connect(oldAddr, env.Budget.WithDefaults().OldMasterTimeout); err == nil {
		closers = append(closers, oldDB.Close)
		seq.Old = &oldMaster{srv: NewServer(oldAddr, env.Flavor, oldDB, log)}
	} else {
		log.Warn("old master: cannot build a connection; it will not be fenced", "host", oldAddr, "err", err)
	}
	seq.Capture = &settler{cluster: seq.Cluster, old: oldAddr, new: newAddr, uid: in.RecoveryUID, flavor: env.Flavor,
		open: env.OpenStore, wait: env.CaptureWait, admin: env.Admin, log: log}
	opts := env.Applier
	opts.AllowWritable = false
	seq.Compensator = &compensator{db: newDB, open: env.OpenStore, opts: opts, dir: env.ReportDir}
	if env.Router != nil {
		closers = append(closers, env.Router.Close)
		seq.Route = &proxyRoute{router: env.Router, newMaster: newAddr, readers: readersOf(in, succ),
			setReaders: env.SetReaders, probe: env.Probe, connect: env.Connect,
			failover: route.Failover{Cluster: seq.Cluster, OldMaster: oldAddr, NewMaster: newAddr}}
	}
	if env.StateDir != "" && in.RecoveryUID != "" {
		seq.Runs = NewRunFile(env.StateDir, seq.Cluster, in.RecoveryUID)
	}
	return seq, close, nil
}

// readersOf is the replicas that stay in the cluster: Orchestrator's
// replica list without the successor, the failed master and the lost
// replicas.
func readersOf(in Input, succ Addr) []string {
	drop := map[Addr]bool{succ: true, in.Failed(): true}
	for _, a := range in.LostReplicas {
		drop[a] = true
	}
	var out []string
	for _, a := range in.ReplicaHosts {
		if !drop[a] {
			out = append(out, a.String())
		}
	}
	return out
}

// PreFailover is the PreFailoverProcesses action: fence the old master
// if it can be reached, within Budget.OldMasterTimeout. It never fails
// the hook (a failing pre-failover hook aborts Orchestrator's recovery):
// the outcome is only reported.
func PreFailover(ctx context.Context, in Input, env Env) OldFence {
	b := env.Budget.WithDefaults()
	addr := in.Failed().String()
	db, err := env.Connect(addr, b.OldMasterTimeout)
	if err != nil {
		return OldFence{Error: err.Error()}
	}
	defer db.Close()
	ctx, cancel := shortCtx(ctx, b.OldMasterTimeout)
	defer cancel()
	f, err := (&oldMaster{srv: NewServer(addr, env.Flavor, db, env.Log)}).Fence(ctx)
	if err != nil {
		f.Error = err.Error()
	}
	return f
}

// newMaster is NewMaster over SQL.
type newMaster struct {
	srv  *Server
	lock string
}

func (m *newMaster) Fence(ctx context.Context) (FenceInfo, error) {
	var fi FenceInfo
	w, err := m.srv.Writable(ctx)
	if err != nil {
		return fi, err
	}
	fi.WasWritable = w
	if err := m.srv.SetReadOnly(ctx, true, false); err != nil {
		return fi, err
	}
	rs, err := m.srv.Replica(ctx)
	if err != nil {
		return fi, err
	}
	if rs.Running {
		fi.WasReplicating = true
		if err := m.srv.StopReplica(ctx); err != nil {
			return fi, err
		}
	}
	fi.Identity, err = m.srv.Identity(ctx)
	return fi, err
}

func (m *newMaster) Lock(ctx context.Context, timeout time.Duration) (Unlocker, error) {
	return AcquireLock(ctx, m.srv.DB, m.lock, timeout)
}

func (m *newMaster) Detach(ctx context.Context) (bool, error) {
	rs, err := m.srv.Replica(ctx)
	if err != nil || !rs.Configured {
		return false, err
	}
	return true, m.srv.ResetReplica(ctx)
}

func (m *newMaster) Unfence(ctx context.Context) error { return m.srv.SetReadOnly(ctx, false, false) }

func (m *newMaster) Writable(ctx context.Context) (bool, error) { return m.srv.Writable(ctx) }

func (m *newMaster) Identity(ctx context.Context) (Identity, error) { return m.srv.Identity(ctx) }

// oldMaster is OldMaster over SQL.
type oldMaster struct{ srv *Server }

func (m *oldMaster) Fence(ctx context.Context) (OldFence, error) {
	var f OldFence
	if err := m.srv.SetReadOnly(ctx, true, true); err != nil {
		return f, err
	}
	f.Reached = true
	n, err := m.srv.KillClients(ctx)
	f.Killed = n
	if err != nil {
		return f, err
	}
	f.Position, err = m.srv.Position(ctx)
	return f, err
}
