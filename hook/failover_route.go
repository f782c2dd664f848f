package hook

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/recoup-dev/recoup/hook/route"
)

// proxyRoute is Route over a route.Router and a probe through the proxy.
type proxyRoute struct {
	router     route.Router
	newMaster  string
	readers    []string
	setReaders bool
	probe      Probe
	connect    func(addr string, timeout time.Duration) (*sql.DB, error)
	failover   route.Failover
}

func (p *proxyRoute) ctx(ctx context.Context) context.Context {
	return route.WithFailover(ctx, p.failover)
}

func (p *proxyRoute) FenceWriter(ctx context.Context) error {
	return p.router.FenceWriter(p.ctx(ctx))
}

// Switch points the writer at the new master, the readers at the
// remaining replicas, and persists the routing.
func (p *proxyRoute) Switch(ctx context.Context) error {
	ctx = p.ctx(ctx)
	if err := p.router.SetWriter(ctx, p.newMaster); err != nil {
		return err
	}
	if p.setReaders {
		if err := p.router.SetReaders(ctx, p.readers); err != nil {
			return err
		}
	}
	return p.router.Persist(ctx)
}

// Verify waits until the proxy's own view routes writes to the new master
// and, when a probe address is configured, a connection through the
// proxy lands on the server whose identity is want.
func (p *proxyRoute) Verify(ctx context.Context, want Identity) (string, error) {
	ctx = p.ctx(ctx)
	interval := p.probe.Interval
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	if err := route.WaitVerified(ctx, p.router, p.newMaster, interval); err != nil {
		return "", err
	}
	if p.probe.Addr == "" {
		return "proxy view: one writer in rotation, " + p.newMaster + ", up", nil
	}
	got, tries, err := p.probeUntil(ctx, want, interval)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("proxy view and probe: a connection to %s reached %s (%d attempts)", p.probe.Addr, got, tries), nil
}

// probeUntil connects through the proxy, fresh each time, until one
// connection answers with want's identity.
func (p *proxyRoute) probeUntil(ctx context.Context, want Identity, interval time.Duration) (Identity, int, error) {
	db, err := p.connect(p.probe.Addr, time.Second)
	if err != nil {
		return Identity{}, 0, fmt.Errorf("probe through %s: %w", p.probe.Addr, err)
	}
	defer db.Close()
	db.SetMaxIdleConns(0) // every attempt is a new connection, routed afresh
	var last error
	for tries := 1; ; tries++ {
		got, err := probeOnce(ctx, db)
		if err == nil && got == want {
			return got, tries, nil
		}
		if err == nil {
			err = fmt.Errorf("reached %s, want %s", got, want)
		}
		last = err
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return Identity{}, tries, fmt.Errorf("probe through %s: %w (last: %w)", p.probe.Addr, ctx.Err(), last)
		case <-t.C:
		}
	}
}

func probeOnce(ctx context.Context, db *sql.DB) (Identity, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return Identity{}, err
	}
	defer conn.Close()
	id, err := ReadIdentity(ctx, conn)
	if err != nil {
		return id, err
	}
	if id == (Identity{}) {
		return id, errors.New("empty identity")
	}
	return id, nil
}
