package route

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Router switches the SQL proxy in front of one cluster. The failover hook
// calls it in this order: Preflight (before anything changes), FenceWriter
// (no write reaches the old master through the proxy any more), SetWriter
// and SetReaders once the new master has every transaction, Persist, then
// Verify (usually through WaitVerified).
//
// Addresses are "host:port" strings. The host must be an IP literal or a
// name that resolves; it is resolved once, up front, and the proxy is given
// the IP (DBProxy needs IPv4). Ports must be 1-65535. Invalid addresses are
// refused before anything is sent to the proxy.
//
// Every method takes ctx first, honours its deadline and returns errors
// wrapped with what was being done. Methods are not safe for concurrent
// use on the same Router: one failover drives one Router.
type Router interface {
	// Preflight checks that the proxy is reachable and set up so that the
	// failover can rely on it. It returns warnings (also logged) for
	// settings that would defeat the fence or the switch, such as
	// ProxySQL replication hostgroups that move servers by themselves, or
	// HAProxy writer servers without health checks. An error means the
	// proxy cannot be driven at all.
	Preflight(ctx context.Context) (warnings []string, err error)

	// State reports the writer and reader backends as the proxy itself
	// sees them now (its runtime view, not its configuration file).
	State(ctx context.Context) (State, error)

	// FenceWriter stops writes through the proxy: every writer backend is
	// taken out of rotation (no new connection reaches it) and its current
	// client sessions are killed. It returns once the proxy's own view shows
	// no writer in rotation, or an error. Fencing an already fenced proxy
	// succeeds.
	FenceWriter(ctx context.Context) error

	// SetWriter makes addr the one writer backend and puts it in rotation;
	// any other writer backend stays out of rotation. It does not wait for
	// the proxy's health check to mark the new writer up: see Verify.
	SetWriter(ctx context.Context, addr string) error

	// SetReaders makes addrs the reader backends, in rotation; readers not
	// listed are taken out of rotation (removed where the proxy allows).
	// An empty list leaves no reader.
	SetReaders(ctx context.Context, addrs []string) error

	// Persist saves the proxy's current routing so that a restart of the
	// proxy keeps it (HAProxy state and configuration files, DBProxy SAVE
	// CONFIG or a rendered configuration file, ProxySQL SAVE ... TO DISK).
	Persist(ctx context.Context) error

	// Verify checks, once, that the proxy's own view has exactly one writer
	// in rotation, that it is want and that the proxy considers it up. A
	// mismatch is an error wrapping ErrNotVerified; other errors mean the
	// proxy could not be asked.
	Verify(ctx context.Context, want string) error

	// Close releases the router's connections (admin pools).
	Close() error
}

// State is the proxy's view of one cluster's routes.
type State struct {
	Writers []Backend
	Readers []Backend
}

// Backend is one server as a proxy sees it.
type Backend struct {
	// Addr is host:port as the proxy has it.
	Addr string
	// Status is the proxy's own word for the server's state, for people:
	// "UP MAINT" (HAProxy op/admin state), "offline" (DBProxy),
	// "OFFLINE_HARD" (ProxySQL), ...
	Status string
	// Enabled: the proxy sends new connections to it (not in maintenance,
	// offline, draining or removed).
	Enabled bool
	// Up: the proxy considers the server healthy. Proxies without health
	// checks report true while the server is configured.
	Up bool
	// Name is the proxy's own handle for the server where it has one
	// (HAProxy "backend/server", DBProxy backend_ndx, ProxySQL hostgroup).
	Name string
}

// EnabledWriters returns the writers in rotation.
func (s State) EnabledWriters() []Backend {
	var out []Backend
	for _, b := range s.Writers {
		if b.Enabled {
			out = append(out, b)
		}
	}
	return out
}

// String is a one-line summary for logs and errors.
func (s State) String() string {
	var b strings.Builder
	b.WriteString("writers [")
	writeBackends(&b, s.Writers)
	b.WriteString("] readers [")
	writeBackends(&b, s.Readers)
	b.WriteString("]")
	return b.String()
}

func writeBackends(b *strings.Builder, bs []Backend) {
	for i, be := range bs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%s %s", be.Addr, be.Status)
	}
}

// ErrNotVerified marks a Verify whose proxy view does not match.
var ErrNotVerified = errors.New("proxy does not route writes to the expected master")

// ErrDisabled is returned by New for Kind "none" (or empty): proxy routing
// is not recoup's job for that cluster.
var ErrDisabled = errors.New("proxy routing disabled")

// verifyState is the common Verify rule: exactly one writer in rotation,
// at want, up.
func verifyState(st State, want string) error {
	enabled := st.EnabledWriters()
	switch {
	case len(enabled) == 0:
		return fmt.Errorf("%w: no writer in rotation (%s)", ErrNotVerified, st)
	case len(enabled) > 1:
		return fmt.Errorf("%w: %d writers in rotation (%s)", ErrNotVerified, len(enabled), st)
	case enabled[0].Addr != want:
		return fmt.Errorf("%w: writer is %s, want %s", ErrNotVerified, enabled[0].Addr, want)
	case !enabled[0].Up:
		return fmt.Errorf("%w: writer %s is %s, not up", ErrNotVerified, want, enabled[0].Status)
	}
	return nil
}

// WaitVerified calls r.Verify every interval until it succeeds, ctx ends,
// or Verify fails with an error other than ErrNotVerified. It returns the
// last error with how long it waited.
func WaitVerified(ctx context.Context, r Router, want string, interval time.Duration) error {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	start := time.Now()
	for {
		err := r.Verify(ctx, want)
		if err == nil || !errors.Is(err, ErrNotVerified) {
			return err
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting %s for the proxy to route to %s: %w (last: %w)",
				time.Since(start).Round(time.Millisecond), want, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// Failover describes the failover a Router works for. The hook attaches it
// to the context (WithFailover); the command and webhook routers pass it on
// to the external program, the others only log it.
type Failover struct {
	Cluster   string
	OldMaster string // host:port, may be empty
	NewMaster string // host:port, may be empty
}

type failoverKey struct{}

// WithFailover returns ctx carrying f.
func WithFailover(ctx context.Context, f Failover) context.Context {
	return context.WithValue(ctx, failoverKey{}, f)
}

// FailoverFrom returns the Failover attached by WithFailover (zero if none).
func FailoverFrom(ctx context.Context) Failover {
	f, _ := ctx.Value(failoverKey{}).(Failover)
	return f
}
