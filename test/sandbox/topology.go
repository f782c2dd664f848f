package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Topology is a primary and its replicas. Primary and Replicas change on
// Promote; the failed primary stays owned by the topology (Former) so Close
// still cleans it up. Promote must not run concurrently with other use of
// those fields; Instance methods are safe for concurrent use.
type Topology struct {
	Primary  *Instance
	Replicas []*Instance
	Former   []*Instance // primaries replaced by Promote
	Dir      string      // parent of the instance directories
	User     string
	Password string

	all     []*Instance // every instance made, in order: what Close cleans up
	owned   bool        // Close kills the servers (false after Attach)
	ownsDir bool        // Close removes Dir itself
	log     *slog.Logger
}

// Instances returns the primary, then the replicas, then former primaries.
func (t *Topology) Instances() []*Instance {
	out := append([]*Instance{t.Primary}, t.Replicas...)
	return append(out, t.Former...)
}

// maxSocketPath keeps unix socket paths inside sockaddr_un (108 bytes).
const maxSocketPath = 104

// Launch starts a primary and opts.Replicas replicas replicating from it,
// and returns once every replica's threads run. On error everything it
// started is stopped and removed.
func Launch(ctx context.Context, opts Options) (t *Topology, err error) {
	if opts.Replicas < 0 {
		return nil, fmt.Errorf("launching sandbox: %d replicas", opts.Replicas)
	}
	bins, err := findBinaries()
	if err != nil {
		return nil, err
	}
	template, err := ensureTemplate(ctx, bins)
	if err != nil {
		return nil, fmt.Errorf("preparing datadir template: %w", err)
	}
	t = &Topology{User: "root", owned: true, log: opts.logger()}
	if t.Password, err = randomPassword(); err != nil {
		return nil, err
	}
	if t.Dir, t.ownsDir, err = makeRoot(opts.Dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Close())
			t = nil
		}
	}()
	start := time.Now()
	insts, err := t.newInstances(opts, bins)
	if err != nil {
		return t, err
	}
	t.Primary, t.Replicas = insts[0], insts[1:]
	err = eachParallel(insts, func(in *Instance) error { return in.firstStart(ctx, opts, template) })
	if err != nil {
		return t, err
	}
	t.log.Debug("servers started", "took", time.Since(start))
	if err := eachParallel(t.Replicas, func(in *Instance) error { return in.ReplicateFrom(ctx, t.Primary) }); err != nil {
		return t, err
	}
	t.log.Info("sandbox ready", "host", t.Primary.Addr(), "replicas", len(t.Replicas), "took", time.Since(start))
	return t, nil
}

func makeRoot(dir string) (string, bool, error) {
	if dir == "" {
		d, err := makeScratchRoot()
		return d, true, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false, fmt.Errorf("resolving sandbox directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", false, fmt.Errorf("creating sandbox directory %s: %w", abs, err)
	}
	return abs, false, nil
}

func randomPassword() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating sandbox password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// newInstances makes each instance's directory, port and command line.
// Each is recorded in t.all as soon as its directory exists, so Close
// removes it on a later error.
func (t *Topology) newInstances(opts Options, bins binaries) ([]*Instance, error) {
	n := opts.Replicas + 1
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	insts := make([]*Instance, 0, n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("db%d", i)
		dir := filepath.Join(t.Dir, name)
		in := &Instance{
			Index: i, Name: name, ServerID: uint32(i + 1), Host: loopback, Port: ports[i],
			User: t.User, Password: t.Password, Dir: dir, DataDir: filepath.Join(dir, "data"),
			bin: bins.mariadbd, detach: opts.Detach, startTimeout: opts.startTimeout(),
			log: t.log.With("cluster", "sandbox", "instance", name),
		}
		in.Socket = filepath.Join(in.DataDir, "mysqld.sock")
		if len(in.Socket) >= maxSocketPath {
			return insts, fmt.Errorf("socket path %s is %d bytes, the limit is %d: use a shorter sandbox directory",
				in.Socket, len(in.Socket), maxSocketPath)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return insts, fmt.Errorf("creating instance directory: %w", err)
		}
		insts = append(insts, in)
		t.all = append(t.all, in)
		if in.args, err = serverArgs(in, opts.settingsFor(i)); err != nil {
			return insts, fmt.Errorf("building options of %s: %w", name, err)
		}
	}
	return insts, nil
}

// freePorts reserves n distinct free loopback ports. They are released
// before the servers bind them; a lost race is retried by firstStart.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", loopback+":0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// firstStart copies the template datadir, starts the new instance, moving
// to another port if its port was taken meanwhile, and creates the sandbox
// user.
func (in *Instance) firstStart(ctx context.Context, opts Options, template string) error {
	t0 := time.Now()
	if err := copyDatadir(ctx, template, in.DataDir); err != nil {
		return err
	}
	in.log.Debug("datadir copied", "took", time.Since(t0))
	const attempts = 3
	for try := 1; ; try++ {
		err := in.Start(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, errServerExited) || !in.addrInUse() || try == attempts {
			return err
		}
		ports, perr := freePorts(1)
		if perr != nil {
			return errors.Join(err, perr)
		}
		in.Port = ports[0]
		if in.args, perr = serverArgs(in, opts.settingsFor(in.Index)); perr != nil {
			return perr
		}
		if perr = os.Truncate(in.ErrorLog(), 0); perr != nil {
			return fmt.Errorf("resetting error log of %s: %w", in.Name, perr)
		}
	}
	return in.setupUsers(ctx)
}

// eachParallel runs f on every instance concurrently and joins the errors.
func eachParallel(insts []*Instance, f func(*Instance) error) error {
	errs := make([]error, len(insts))
	var wg sync.WaitGroup
	for i, in := range insts {
		wg.Go(func() { errs[i] = f(in) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close kills every server this topology started (SIGKILL: the data is
// thrown away), closes the pools and removes the instance directories. For
// an attached topology it only closes the pools; see Down.
func (t *Topology) Close() error {
	var errs []error
	for _, in := range t.all {
		if t.owned {
			errs = append(errs, in.Kill())
		}
		errs = append(errs, in.closePool())
		if t.owned && !t.ownsDir {
			errs = append(errs, removeDir(in.Dir))
		}
	}
	if t.owned && t.ownsDir {
		errs = append(errs, removeDir(t.Dir))
	}
	return errors.Join(errs...)
}

func removeDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing sandbox directory: %w", err)
	}
	return nil
}

// WaitCaughtUp waits until every running replica has the primary's
// gtid_binlog_pos.
func (t *Topology) WaitCaughtUp(ctx context.Context) error {
	var errs []error
	for _, r := range t.Replicas {
		if r.Running() {
			errs = append(errs, WaitCaughtUp(ctx, r, t.Primary))
		}
	}
	return errors.Join(errs...)
}
