package route

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func newTestProxySQL(t *testing.T, f *fakeProxySQL, readers bool) *ProxySQL {
	t.Helper()
	cfg := ProxySQLConfig{Admin: f.addr(), User: f.user, WriterHostgroup: 10}
	if readers {
		rhg := 20
		cfg.ReaderHostgroup = &rhg
	}
	p, err := NewProxySQL(cfg, f.pw, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestProxySQLFailover(t *testing.T) {
	const a, b, c = "10.0.0.1:3306", "10.0.0.2:3306", "10.0.0.3:3306"
	f := startFakeProxySQL(t,
		psRow{10, "10.0.0.1", 3306, "ONLINE"},
		psRow{20, "10.0.0.2", 3306, "ONLINE"},
		psRow{20, "10.0.0.3", 3306, "ONLINE"},
		psRow{30, "10.0.9.9", 3306, "ONLINE"}) // another cluster's hostgroup
	r := newTestProxySQL(t, f, true)
	ctx := t.Context()

	if warns, err := r.Preflight(ctx); err != nil || len(warns) != 0 {
		t.Fatalf("Preflight = %q, %v", warns, err)
	}
	if err := r.Verify(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := r.FenceWriter(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Writers) != 1 || st.Writers[0].Status != "OFFLINE_HARD" || st.Writers[0].Enabled {
		t.Fatalf("after fence: %s", st)
	}
	if err := r.Verify(ctx, a); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("Verify after fence = %v", err)
	}
	if err := r.SetWriter(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := r.SetReaders(ctx, []string{c}); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(ctx, b); err != nil {
		t.Fatal(err)
	}
	st, err = r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Readers) != 1 || st.Readers[0].Addr != c || !st.Readers[0].Up {
		t.Fatalf("readers: %s", st)
	}
	testProxySQLPersist(t, f, r)
}

func testProxySQLPersist(t *testing.T, f *fakeProxySQL, r *ProxySQL) {
	ctx := t.Context()
	if err := r.Persist(ctx); err != nil {
		t.Fatal(err)
	}
	config, runtime, disk := f.snapshot()
	want := []psRow{{30, "10.0.9.9", 3306, "ONLINE"}, {10, "10.0.0.2", 3306, "ONLINE"}, {20, "10.0.0.3", 3306, "ONLINE"}}
	if !slices.Equal(config, want) || !slices.Equal(runtime, want) || !slices.Equal(disk, want) {
		t.Fatalf("mysql_servers:\n config  %v\n runtime %v\n disk    %v\nwant %v", config, runtime, disk, want)
	}
	// SetWriter to the current writer is idempotent.
	if err := r.SetWriter(ctx, "10.0.0.2:3306"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetReaders(ctx, []string{"10.0.0.3:3306"}); err != nil {
		t.Fatal(err)
	}
	if _, runtime2, _ := f.snapshot(); !slices.Equal(runtime2, want) {
		t.Fatalf("runtime after repeating the switch: %v", runtime2)
	}
}

func TestProxySQLReplicationHostgroupsWarning(t *testing.T) {
	f := startFakeProxySQL(t, psRow{10, "10.0.0.1", 3306, "ONLINE"})
	f.mu.Lock()
	f.replHostgroups = [][2]int{{50, 60}, {10, 20}}
	f.mu.Unlock()
	r := newTestProxySQL(t, f, true)
	warns, err := r.Preflight(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "writer_hostgroup=10") || !strings.Contains(warns[0], "defeats the fence") {
		t.Fatalf("warnings = %q", warns)
	}
}

func TestProxySQLShunnedWriterNotVerified(t *testing.T) {
	f := startFakeProxySQL(t, psRow{10, "10.0.0.1", 3306, "ONLINE"})
	f.mu.Lock()
	f.down["10.0.0.2:3306"] = true
	f.mu.Unlock()
	r := newTestProxySQL(t, f, false)
	ctx := t.Context()
	if err := r.SetWriter(ctx, "10.0.0.2:3306"); err != nil {
		t.Fatal(err)
	}
	err := r.Verify(ctx, "10.0.0.2:3306")
	if !errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), "SHUNNED") {
		t.Fatalf("Verify(shunned writer) = %v", err)
	}
	if err := r.SetReaders(ctx, nil); err == nil {
		t.Fatal("SetReaders without a reader hostgroup succeeded")
	}
}

func TestProxySQLIPv6AndNames(t *testing.T) {
	f := startFakeProxySQL(t)
	r := newTestProxySQL(t, f, false)
	ctx := t.Context()
	for _, addr := range []string{"[::1]:3306", "localhost:3307"} {
		if err := r.SetWriter(ctx, addr); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Verify(ctx, "127.0.0.1:3307"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"x'); DELETE FROM mysql_servers; --:1", "10.0.0.1:99999", ""} {
		if err := r.SetWriter(ctx, bad); err == nil {
			t.Errorf("SetWriter(%q) succeeded", bad)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.statements {
		if strings.Contains(s, "DELETE FROM mysql_servers;") {
			t.Fatalf("an unvalidated value reached ProxySQL: %q", s)
		}
	}
}

func TestProxySQLConfigErrors(t *testing.T) {
	same := 10
	for _, cfg := range []ProxySQLConfig{
		{Admin: "127.0.0.1:6032", WriterHostgroup: -1},
		{Admin: "127.0.0.1:6032", WriterHostgroup: 10, ReaderHostgroup: &same},
		{Admin: "nohostport", WriterHostgroup: 10},
	} {
		if _, err := NewProxySQL(cfg, "pw", testLogger(t)); err == nil {
			t.Errorf("NewProxySQL(%+v) succeeded", cfg)
		}
	}
}
