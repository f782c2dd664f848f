package route

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func newTestDBProxy(t *testing.T, f *fakeDBProxy, mod func(*DBProxyConfig)) *DBProxy {
	t.Helper()
	cfg := DBProxyConfig{Admin: f.addr(), User: f.user, PollInterval: 5 * time.Millisecond, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	d, err := NewDBProxy(cfg, f.pw, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func wantCommands(t *testing.T, f *fakeDBProxy, want ...string) {
	t.Helper()
	if got := f.takeCommands(); !slices.Equal(got, want) {
		t.Fatalf("commands sent:\n  %q\nwant\n  %q", got, want)
	}
}

func wantBackends(t *testing.T, f *fakeDBProxy, want ...string) {
	t.Helper()
	if got := f.summary(); !slices.Equal(got, want) {
		t.Fatalf("backends:\n  %q\nwant\n  %q", got, want)
	}
}

// TestDBProxyFailover runs a whole failover against the fake admin
// interface and checks every command DBProxy received.
func TestDBProxyFailover(t *testing.T) {
	const a, b, c, d = "10.0.0.1:3306", "10.0.0.2:3306", "10.0.0.3:3306", "10.0.0.4:3307"
	f := startFakeDBProxy(t,
		fakeBackend{addr: a, typ: "rw", state: "up"},
		fakeBackend{addr: b, typ: "ro", state: "up", weight: 1},
		fakeBackend{addr: c, typ: "ro", state: "up", weight: 1})
	r := newTestDBProxy(t, f, nil)
	ctx := t.Context()

	if warns, err := r.Preflight(ctx); err != nil || len(warns) != 0 {
		t.Fatalf("Preflight = %q, %v", warns, err)
	}
	if err := r.Verify(ctx, a); err != nil {
		t.Fatalf("Verify(A) before failover: %v", err)
	}
	if err := r.FenceWriter(ctx); err != nil {
		t.Fatal(err)
	}
	wantCommands(t, f, "SET OFFLINE 1 TIMEOUT 1")
	wantBackends(t, f, "rw "+a+" offline", "ro "+b+" up", "ro "+c+" up")
	if err := r.Verify(ctx, a); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("Verify after fence = %v", err)
	}

	if err := r.SetWriter(ctx, b); err != nil {
		t.Fatal(err)
	}
	// ADD MASTER lands at index 2 (swapped with the first slave), so the
	// old master is still 1 when removed.
	wantCommands(t, f, "ADD MASTER "+b, "REMOVE BACKEND 1 TIMEOUT 1")
	waitVerified(t, ctx, r, b)
	wantBackends(t, f, "rw "+b+" up", "ro "+c+" up", "ro "+b+" up")

	if err := r.SetReaders(ctx, []string{c, d}); err != nil {
		t.Fatal(err)
	}
	wantCommands(t, f, "REMOVE BACKEND 3 TIMEOUT 1", "ADD SLAVE "+d)
	st, err := r.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Readers) != 2 || st.Readers[0].Addr != c || st.Readers[1].Addr != d {
		t.Fatalf("state after SetReaders: %s", st)
	}
	if err := r.Persist(ctx); err != nil {
		t.Fatal(err)
	}
	wantCommands(t, f, "SAVE CONFIG")
	f.mu.Lock()
	saves := f.saves
	f.mu.Unlock()
	if len(saves) != 1 || !slices.Contains(saves[0], "rw "+b+" up") {
		t.Fatalf("saved configs: %q", saves)
	}
}

// TestDBProxyIndexShift removes several readers that each sit at the
// same index after the previous removal.
func TestDBProxyIndexShift(t *testing.T) {
	backends := []fakeBackend{{addr: "10.0.0.1:3306", typ: "rw", state: "up"}}
	for _, r := range []string{"10.0.1.1:3306", "10.0.1.2:3306", "10.0.1.3:3306", "10.0.1.4:3306", "10.0.1.5:3306"} {
		backends = append(backends, fakeBackend{addr: r, typ: "ro", state: "up", weight: 1})
	}
	f := startFakeDBProxy(t, backends...)
	r := newTestDBProxy(t, f, func(c *DBProxyConfig) { c.OfflineTimeout = 3 * time.Second })
	if err := r.SetReaders(t.Context(), []string{"10.0.1.5:3306"}); err != nil {
		t.Fatal(err)
	}
	wantCommands(t, f, "REMOVE BACKEND 2 TIMEOUT 3", "REMOVE BACKEND 2 TIMEOUT 3", "REMOVE BACKEND 2 TIMEOUT 3", "REMOVE BACKEND 2 TIMEOUT 3")
	wantBackends(t, f, "rw 10.0.0.1:3306 up", "ro 10.0.1.5:3306 up")
}

// TestDBProxySetWriterWithoutFence takes the online master offline first,
// because DBProxy refuses a second read-write backend otherwise.
func TestDBProxySetWriterWithoutFence(t *testing.T) {
	f := startFakeDBProxy(t,
		fakeBackend{addr: "10.0.0.1:3306", typ: "ro", state: "up"},
		fakeBackend{addr: "10.0.0.2:3306", typ: "rw", state: "up"})
	r := newTestDBProxy(t, f, nil)
	if err := r.SetWriter(t.Context(), "10.0.0.9:3306"); err != nil {
		t.Fatal(err)
	}
	wantCommands(t, f, "SET OFFLINE 2 TIMEOUT 1", "ADD MASTER 10.0.0.9:3306", "REMOVE BACKEND 2 TIMEOUT 1")
	wantBackends(t, f, "rw 10.0.0.9:3306 up", "ro 10.0.0.1:3306 up")
	// The same again changes nothing.
	if err := r.SetWriter(t.Context(), "10.0.0.9:3306"); err != nil {
		t.Fatal(err)
	}
	wantCommands(t, f)
}

// TestDBProxyBackToOldMaster brings an offline read-write backend back.
func TestDBProxyBackToOldMaster(t *testing.T) {
	f := startFakeDBProxy(t,
		fakeBackend{addr: "10.0.0.1:3306", typ: "rw", state: "offline"},
		fakeBackend{addr: "10.0.0.2:3306", typ: "rw", state: "offline"})
	r := newTestDBProxy(t, f, nil)
	if err := r.SetWriter(t.Context(), "10.0.0.2:3306"); err != nil {
		t.Fatal(err)
	}
	wantCommands(t, f, "SET ONLINE 2", "REMOVE BACKEND 1 TIMEOUT 1")
	wantBackends(t, f, "rw 10.0.0.2:3306 up")
}

func TestDBProxyRefusals(t *testing.T) {
	f := startFakeDBProxy(t, fakeBackend{addr: "10.0.0.1:3306", typ: "rw", state: "up"})
	r := newTestDBProxy(t, f, nil)
	ctx := t.Context()
	for _, addr := range []string{"[::1]:3306", "10.0.0.2:0", "10.0.0.2:65536", "10.0.0.2", "bad_host:3306", "10.0.0.2:3306;"} {
		if err := r.SetWriter(ctx, addr); err == nil {
			t.Errorf("SetWriter(%q) succeeded", addr)
		}
		if err := r.SetReaders(ctx, []string{addr}); err == nil {
			t.Errorf("SetReaders(%q) succeeded", addr)
		}
	}
	wantCommands(t, f) // nothing reached DBProxy
	if err := r.SetReaders(ctx, []string{"10.0.0.5:3306", "10.0.0.5:3306"}); err == nil {
		t.Error("SetReaders with a duplicate succeeded")
	}
	// A name is resolved: DBProxy gets the IPv4 address.
	if err := r.SetReaders(ctx, []string{"localhost:3310"}); err != nil {
		t.Fatal(err)
	}
	wantCommands(t, f, "ADD SLAVE 127.0.0.1:3310")
}

// TestFakeDBProxyRules checks that the fake enforces what the router
// must respect, through a plain client.
func TestFakeDBProxyRules(t *testing.T) {
	f := startFakeDBProxy(t, fakeBackend{addr: "10.0.0.1:3306", typ: "rw", state: "up"})
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = f.user, f.pw, "tcp", f.addr()
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	for _, q := range []string{
		"SELECT * FROM backends;", "SET OFFLINE 1;", "ADD MASTER 10.0.0.2:3306",
		"ADD MASTER [::1]:3306", "ADD MASTER db.example:3306", "SET OFFLINE 2", "REMOVE BACKEND 7",
	} {
		if _, err := db.ExecContext(t.Context(), q); err == nil {
			t.Errorf("fake DBProxy accepted %q", q)
		}
	}
	for _, q := range []string{"set offline 1 timeout 5", "select  *  from  BACKENDS", "add master 10.0.0.2:3306", "SAVE CONFIG"} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Errorf("fake DBProxy refused %q: %v", q, err)
		}
	}
}

func TestDBProxyIgnoredAdd(t *testing.T) {
	f := startFakeDBProxy(t, fakeBackend{addr: "10.0.0.1:3306", typ: "rw", state: "offline"})
	f.mu.Lock()
	f.ignoreAdds = true
	f.mu.Unlock()
	r := newTestDBProxy(t, f, nil)
	err := r.SetWriter(t.Context(), "10.0.0.2:3306")
	if err == nil || !strings.Contains(err.Error(), "did not apply") {
		t.Fatalf("SetWriter with an ignored ADD = %v", err)
	}
}

func TestDBProxyFenceWaitsForOffline(t *testing.T) {
	f := startFakeDBProxy(t, fakeBackend{addr: "10.0.0.1:3306", typ: "rw", state: "up"})
	f.mu.Lock()
	f.stuckOfflining = true
	f.mu.Unlock()
	r := newTestDBProxy(t, f, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := r.FenceWriter(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("FenceWriter on a backend stuck offlining = %v", err)
	}
	wantCommands(t, f, "SET OFFLINE 1 TIMEOUT 1") // polled, never repeated
	wantBackends(t, f, "rw 10.0.0.1:3306 offlining")
}

func TestDBProxyWrongPassword(t *testing.T) {
	f := startFakeDBProxy(t)
	d, err := NewDBProxy(DBProxyConfig{Admin: f.addr(), User: f.user}, "wrong", testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.State(t.Context()); err == nil || !strings.Contains(err.Error(), "Access denied") {
		t.Fatalf("State with a wrong password = %v", err)
	}
}

// TestDBProxyPersistFile renders the configuration and runs the ship
// commands (scripts in a temp dir).
func TestDBProxyPersistFile(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "source.cnf")
	writeTestFile(t, tmpl, "[mysql-proxy]\nadmin-username=monitor\nproxy-backend-addresses=10.9.9.9:3306\ninstance=source\n")
	upload := writeScript(t, dir, "upload.sh", `cp "$1" "$2" && echo "$RECOUP_ACTION $RECOUP_DBPROXY_CONFIG" > "$2.env"`)
	restart := writeScript(t, dir, "restart.sh", `echo restarted > "$1"`)
	shipped, marker := filepath.Join(dir, "shipped.cnf"), filepath.Join(dir, "restarted")
	f := startFakeDBProxy(t,
		fakeBackend{addr: "10.0.0.2:3306", typ: "rw", state: "up"},
		fakeBackend{addr: "10.0.0.3:3306", typ: "ro", state: "up", tag: "mt", weight: 5},
		fakeBackend{addr: "10.0.0.4:3306", typ: "ro", state: "offline", weight: 1})
	out := filepath.Join(dir, "rendered.cnf")
	fileCfg := &DBProxyFileConfig{Template: tmpl, Output: out,
		Upload: []string{upload, "{file}", shipped}, Restart: []string{restart, marker}}
	r := newTestDBProxy(t, f, func(c *DBProxyConfig) { c.File = fileCfg })
	if err := r.Persist(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := "[mysql-proxy]\nproxy-backend-addresses=10.0.0.2:3306\nproxy-read-only-backend-addresses=10.0.0.3:3306$mt@5\n" +
		"admin-username=monitor\ninstance=source\n"
	if got := readTestFile(t, shipped); got != want {
		t.Fatalf("shipped config:\n%s\nwant:\n%s", got, want)
	}
	if got := readTestFile(t, shipped+".env"); got != "persist "+out+"\n" {
		t.Fatalf("upload environment: %q", got)
	}
	if got := readTestFile(t, marker); got != "restarted\n" {
		t.Fatalf("restart marker: %q", got)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("rendered file mode: %v, %v", st, err)
	}
	fileCfg.Restart = []string{writeScript(t, dir, "fail.sh", `echo "proxy host unreachable" >&2; exit 3`)}
	err := r.Persist(t.Context())
	if err == nil || !strings.Contains(err.Error(), "status 3") || !strings.Contains(err.Error(), "proxy host unreachable") {
		t.Fatalf("Persist with a failing restart = %v", err)
	}
}

func writeTestFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readTestFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeScript writes an executable /bin/sh script and returns its path.
func writeScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}
