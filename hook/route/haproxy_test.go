package route

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/test/haproxytest"
	"github.com/recoup-dev/recoup/test/sandbox"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// throughProxy opens a pool to addr with in's credentials.
func throughProxy(t testing.TB, in *sandbox.Instance, addr string) *sql.DB {
	t.Helper()
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = in.User, in.Password, "tcp", addr
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 2*time.Second, 5*time.Second, 5*time.Second
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxIdleConns(0) // every query dials: what a new client would see
	t.Cleanup(func() { db.Close() })
	return db
}

func serverID(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (uint32, error) {
	var id uint32
	err := q.QueryRowContext(ctx, "SELECT @@server_id").Scan(&id)
	return id, err
}

// TestHAProxyLive drives a real haproxy in front of a real MariaDB
// primary (A) and replica (B): route to A, fence, switch to B, readers,
// persist across a haproxy restart.
func TestHAProxyLive(t *testing.T) {
	topo := sandbox.StartTopology(t, sandbox.Options{Replicas: 1})
	a, b := topo.Primary, topo.Replicas[0]
	hp := haproxytest.Start(t, a.Addr(), b.Addr())
	cfg := HAProxyConfig{
		Socket: hp.SocketPath, WriterBackend: haproxytest.WriterBackend, ReaderBackend: haproxytest.ReaderBackend,
		StateFile: hp.StateFile, ConfigFile: hp.ConfigPath,
	}
	r, err := NewHAProxy(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	writerDB := throughProxy(t, a, hp.FrontendAddr)

	t.Run("routes to A", func(t *testing.T) {
		waitVerified(t, ctx, r, a.Addr())
		if id, err := serverID(ctx, writerDB); err != nil || id != a.ServerID {
			t.Fatalf("through haproxy: server_id %d, %v; want %d", id, err, a.ServerID)
		}
		warns, err := r.Preflight(ctx)
		if err != nil || len(warns) != 0 {
			t.Fatalf("Preflight = %q, %v; want no warning", warns, err)
		}
	})
	t.Run("fence kills sessions and refuses new ones", func(t *testing.T) { testHAProxyFence(t, ctx, r, writerDB, a) })
	t.Run("a dead writer is not verified", func(t *testing.T) {
		const dead = "127.0.0.1:1"
		if err := r.SetWriter(ctx, dead); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := r.Verify(ctx, dead); !errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), "DOWN") {
				t.Fatalf("Verify(dead writer) = %v, want ErrNotVerified (DOWN)", err)
			}
			time.Sleep(300 * time.Millisecond) // three health checks
		}
	})
	t.Run("switch to B", func(t *testing.T) {
		start := time.Now()
		if err := r.SetWriter(ctx, b.Addr()); err != nil {
			t.Fatal(err)
		}
		set := time.Since(start)
		waitVerified(t, ctx, r, b.Addr())
		t.Logf("SetWriter took %v; routed and verified up after %v", set, time.Since(start))
		if id, err := serverID(ctx, writerDB); err != nil || id != b.ServerID {
			t.Fatalf("through haproxy: server_id %d, %v; want %d", id, err, b.ServerID)
		}
		if err := r.Verify(ctx, a.Addr()); !errors.Is(err, ErrNotVerified) {
			t.Fatalf("Verify(old master) = %v, want ErrNotVerified", err)
		}
	})
	t.Run("readers", func(t *testing.T) { testHAProxyReaders(t, ctx, r, hp, a, b) })
	t.Run("persist survives restart", func(t *testing.T) { testHAProxyPersist(t, ctx, r, hp, writerDB, a, b) })
}

func waitVerified(t testing.TB, ctx context.Context, r Router, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := WaitVerified(ctx, r, want, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func testHAProxyFence(t *testing.T, ctx context.Context, r *HAProxy, writerDB *sql.DB, a *sandbox.Instance) {
	held, err := writerDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if id, err := serverID(ctx, held); err != nil || id != a.ServerID {
		t.Fatalf("held connection: server_id %d, %v", id, err)
	}
	start := time.Now()
	if err := r.FenceWriter(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("FenceWriter took %v", time.Since(start))
	if _, err := serverID(ctx, held); err == nil {
		t.Fatal("a session opened before the fence still runs queries")
	}
	if id, err := serverID(ctx, writerDB); err == nil {
		t.Fatalf("a new connection through the fenced proxy reached server_id %d", id)
	}
	st, err := r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Writers) != 1 || st.Writers[0].Enabled || !strings.Contains(st.Writers[0].Status, "MAINT") {
		t.Fatalf("state after fence: %s", st)
	}
	if err := r.Verify(ctx, a.Addr()); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("Verify after fence = %v, want ErrNotVerified", err)
	}
	if err := r.FenceWriter(ctx); err != nil {
		t.Fatalf("fencing twice: %v", err)
	}
}

func testHAProxyReaders(t *testing.T, ctx context.Context, r *HAProxy, hp *haproxytest.HAProxy, a, b *sandbox.Instance) {
	readerDB := throughProxy(t, a, hp.ReaderFrontendAddr)
	if err := r.SetReaders(ctx, []string{a.Addr()}); err != nil {
		t.Fatal(err)
	}
	st, err := r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Readers) != 2 || st.Readers[0].Addr != a.Addr() || !st.Readers[0].Enabled || st.Readers[1].Enabled {
		t.Fatalf("readers after SetReaders([A]): %s", st)
	}
	// Reader slot r1 served B before: it is re-pointed at A (and must pass its check).
	deadline := time.Now().Add(10 * time.Second)
	for {
		id, err := serverID(ctx, readerDB)
		if err == nil && id == a.ServerID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reader frontend: server_id %d, %v; want %d", id, err, a.ServerID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	err = r.SetReaders(ctx, []string{a.Addr(), b.Addr(), "127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "3 addresses for 2 server slots") {
		t.Fatalf("SetReaders with more readers than slots = %v", err)
	}
}

func testHAProxyPersist(t *testing.T, ctx context.Context, r *HAProxy, hp *haproxytest.HAProxy, writerDB *sql.DB, a, b *sandbox.Instance) {
	if err := r.Persist(ctx); err != nil {
		t.Fatal(err)
	}
	cfgText, err := os.ReadFile(hp.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server db " + b.Addr(), "server r1 " + a.Addr(), "server r2 127.0.0.1:1 disabled"} {
		if !strings.Contains(string(cfgText), want) {
			t.Fatalf("persisted config lacks %q:\n%s", want, cfgText)
		}
	}
	if st, err := os.ReadFile(hp.StateFile); err != nil || !strings.HasPrefix(string(st), "1\n# be_id") {
		t.Fatalf("state file: %.100q, %v", st, err)
	}
	hp.Restart(t)
	waitVerified(t, ctx, r, b.Addr())
	if id, err := serverID(ctx, writerDB); err != nil || id != b.ServerID {
		t.Fatalf("after restart: server_id %d, %v; want %d", id, err, b.ServerID)
	}
	st, err := r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Readers[0].Addr != a.Addr() || !st.Readers[0].Enabled || st.Readers[1].Enabled {
		t.Fatalf("readers after restart: %s", st)
	}
}

// TestHAProxyCLIErrors checks that error text on a successful socket
// exchange becomes an error, against a live haproxy over its TCP socket.
func TestHAProxyCLIErrors(t *testing.T) {
	hp := haproxytest.Start(t, "127.0.0.1:1")
	cli, err := newHAProxyCLI(hp.AdminTCPAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"unknown server", func() error { return cli.setState(ctx, "writer/nope", "maint") }, "No such server."},
		{"no backend/server", func() error { return cli.setState(ctx, "writer", "maint") }, "Require 'backend/server'."},
		{"bad state", func() error { return cli.setState(ctx, "writer/db", "sleepy") }, "refused"},
		{"shutdown unknown", func() error { return cli.shutdownSessions(ctx, "nobe/db") }, "No such"},
		{"unknown backend", func() error { _, _, err := cli.serversState(ctx, "nobe"); return err }, "Can't find backend"},
		{"unknown command", func() error { return cli.expectEmpty(ctx, "frobnicate") }, "Unknown command"},
		{"injection refused", func() error { return cli.expectEmpty(ctx, "show info; show sess") }, "not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	testHAProxyRouterErrors(t, hp, cli)
}

func testHAProxyRouterErrors(t *testing.T, hp *haproxytest.HAProxy, cli *haproxyCLI) {
	ctx := t.Context()
	t.Run("addr accepted", func(t *testing.T) {
		ap, err := ResolveAddr(ctx, "127.0.0.2:3307")
		if err != nil {
			t.Fatal(err)
		}
		if err := cli.setAddr(ctx, "writer/db", ap); err != nil {
			t.Fatal(err)
		}
		if err := cli.setAddr(ctx, "writer/db", ap); err != nil {
			t.Fatalf("setting the same address again: %v", err)
		}
		if err := cli.setAddr(ctx, "writer/nope", ap); err == nil {
			t.Fatal("setting the address of a missing server succeeded")
		}
		srv, _, err := cli.serversState(ctx, "writer")
		if err != nil || len(srv) != 1 || srv[0].Addr != ap {
			t.Fatalf("servers after setAddr: %+v, %v", srv, err)
		}
	})
	t.Run("preflight warns without persistence", func(t *testing.T) {
		r, err := NewHAProxy(HAProxyConfig{Socket: hp.AdminTCPAddr, WriterBackend: "writer"}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		warns, err := r.Preflight(ctx)
		if err != nil || len(warns) != 1 || !strings.Contains(warns[0], "reverts the switch") {
			t.Fatalf("Preflight = %q, %v", warns, err)
		}
		if err := r.Persist(ctx); err == nil {
			t.Fatal("Persist with nowhere to write succeeded")
		}
	})
	t.Run("missing configured server", func(t *testing.T) {
		r, err := NewHAProxy(HAProxyConfig{Socket: hp.SocketPath, WriterBackend: "writer", WriterServers: []string{"ghost"}}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Preflight(ctx); err == nil || !strings.Contains(err.Error(), "no server ghost") {
			t.Fatalf("Preflight = %v", err)
		}
	})
}

// acceptor is a TCP listener that accepts and closes connections: enough
// for haproxy's TCP health check.
func acceptor(b testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

// BenchmarkHAProxySwitch measures SetWriter plus waiting until haproxy's
// own view has the new writer up (haproxytest checks every 100 ms, rise 1).
func BenchmarkHAProxySwitch(b *testing.B) {
	targets := []string{acceptor(b), acceptor(b)}
	hp := haproxytest.Start(b, targets[0])
	r, err := NewHAProxy(HAProxyConfig{Socket: hp.SocketPath, WriterBackend: haproxytest.WriterBackend}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	i := 0
	for b.Loop() {
		i++
		target := targets[i%2]
		if err := r.SetWriter(ctx, target); err != nil {
			b.Fatal(err)
		}
		if err := WaitVerified(ctx, r, target, 5*time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
}
