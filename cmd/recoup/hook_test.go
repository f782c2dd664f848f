package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/test/e2e"
)

// connCounter is a loopback listener standing in for a database: it
// counts connections and closes them.
type connCounter struct {
	l net.Listener
	n atomic.Int64
}

func newConnCounter(t *testing.T) *connCounter {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &connCounter{l: l}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			c.n.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return c
}

// hookFixture loads the real Orchestrator fixture and renders a recovery
// whose failed master and successor are both addr.
func hookFixture(t *testing.T, addr string) (post, pre []string, postEnv, preEnv []string) {
	fx, err := e2e.LoadFixture(filepath.Join("..", "..", e2e.FixturePath))
	if err != nil {
		t.Fatal(err)
	}
	rec := e2e.Recovery{Failed: addr, Successor: addr, Replicas: []string{addr}, Alias: "shop", UID: "1:abc",
		SuccessorCoordinates: "mariadb-bin.000002:29557"}
	post, postEnv, err = fx.Post(rec)
	if err != nil {
		t.Fatal(err)
	}
	pre, preEnv, err = fx.Pre(rec)
	if err != nil {
		t.Fatal(err)
	}
	return post, pre, postEnv, preEnv
}

// setOrcEnv replaces the ORC_* environment with env for the test.
func setOrcEnv(t *testing.T, env []string) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "ORC_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

func hookConfig(t *testing.T, dir, extra string) string {
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("clusters:\n  - name: shop\n    master: 127.0.0.1:1\n    user: recoup_hook\n    password_file: %s\n"+
		"    server_id: 4001\nstore:\n  local:\n    dir: %s\nhook:\n  report_dir: %s\n  old_master_timeout: 500ms\n%s",
		pw, filepath.Join(dir, "store"), filepath.Join(dir, "reports"), extra)
	p := filepath.Join(dir, "recoup.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runHookCmd(t *testing.T, cfg string, args []string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(t.Context(), append([]string{"hook", "--config", cfg}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestHookIgnoreDoesNothing: invocations recoup does not act on exit 0
// without touching any server or file.
func TestHookIgnoreDoesNothing(t *testing.T) {
	db := newConnCounter(t)
	post, _, postEnv, _ := hookFixture(t, db.l.Addr().String())
	dir := t.TempDir()
	cfg := hookConfig(t, dir, "")
	cases := map[string]func(args []string, env []string) ([]string, []string){
		"detection hook": func(a, e []string) ([]string, []string) { a[0] = "OnFailureDetectionProcesses"; return a, e },
		"intermediate master": func(a, e []string) ([]string, []string) {
			a[1] = "DeadIntermediateMaster"
			return a, replaceEnv(e, "ORC_FAILURE_TYPE", "DeadIntermediateMaster")
		},
		"unsuccessful recovery": func(a, e []string) ([]string, []string) {
			a[19] = "false"
			return a, replaceEnv(e, "ORC_IS_SUCCESSFUL", "false")
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			args, env := mutate(append([]string(nil), post...), append([]string(nil), postEnv...))
			setOrcEnv(t, env)
			code, stdout, stderr := runHookCmd(t, cfg, args)
			if code != 0 || stdout != "" {
				t.Fatalf("exit %d stdout %q stderr %s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, "nothing to do") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("want one log line saying why, got %q", stderr)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if n := db.n.Load(); n != 0 {
		t.Errorf("ignored invocations opened %d connections", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "reports")); !os.IsNotExist(err) {
		t.Errorf("ignored invocations created the report directory: %v", err)
	}
}

func replaceEnv(env []string, key, v string) []string {
	for i, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			env[i] = key + "=" + v
		}
	}
	return env
}

// TestHookPreFailoverNeverFails: a failing PreFailoverProcesses hook would
// abort Orchestrator's recovery, so every outcome exits 0.
func TestHookPreFailoverNeverFails(t *testing.T) {
	db := newConnCounter(t) // answers nothing: the fence fails
	_, pre, _, preEnv := hookFixture(t, db.l.Addr().String())
	dir := t.TempDir()
	cfg := hookConfig(t, dir, "")
	setOrcEnv(t, preEnv)
	code, stdout, stderr := runHookCmd(t, cfg, pre)
	if code != 0 || !strings.Contains(stdout, "not fenced") {
		t.Errorf("unreachable old master: exit %d stdout %q stderr %s", code, stdout, stderr)
	}
	// Unknown cluster alias, and invalid input: still exit 0, with the reason.
	bad := append([]string(nil), pre...)
	bad[10] = "other"
	setOrcEnv(t, replaceEnv(append([]string(nil), preEnv...), "ORC_FAILURE_CLUSTER_ALIAS", "other"))
	if code, _, stderr := runHookCmd(t, cfg, bad); code != 0 || !strings.Contains(stderr, "not in the config") {
		t.Errorf("unknown cluster: exit %d stderr %s", code, stderr)
	}
	bad[8] = "99999"
	setOrcEnv(t, replaceEnv(append([]string(nil), preEnv...), "ORC_FAILED_PORT", "99999"))
	if code, _, stderr := runHookCmd(t, cfg, bad); code != 0 || !strings.Contains(stderr, "invalid hook input") {
		t.Errorf("invalid input: exit %d stderr %s", code, stderr)
	}
}

// TestHookPostFailures: the post-failover hook exits non-zero when it
// cannot act, and says why; it stays within its deadline.
func TestHookPostFailures(t *testing.T) {
	db := newConnCounter(t)
	post, _, postEnv, _ := hookFixture(t, db.l.Addr().String())
	dir := t.TempDir()
	cfg := hookConfig(t, dir, "  deadline: 2s\n  grace: 1s\n")
	setOrcEnv(t, postEnv)
	start := time.Now()
	code, stdout, stderr := runHookCmd(t, cfg, post)
	if code != 1 || !strings.Contains(stdout, "FAILED") || !strings.Contains(stdout, "LEFT TO DO") {
		t.Errorf("unreachable new master: exit %d stdout %s stderr %s", code, stdout, stderr)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s with a 2s deadline", took)
	}
	bad := append([]string(nil), post...)
	bad[7] = "host;rm -rf /"
	setOrcEnv(t, replaceEnv(append([]string(nil), postEnv...), "ORC_FAILED_HOST", "host;rm -rf /"))
	if code, _, stderr := runHookCmd(t, cfg, bad); code != 1 || !strings.Contains(stderr, "invalid hook input") {
		t.Errorf("hostile input: exit %d stderr %s", code, stderr)
	}
}

func TestHookConfig(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadConfig(hookConfig(t, dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Hook.Budget()
	if b.Deadline != 30*time.Second || b.OnDeadline != "stay-fenced" || b.LockTimeout != b.Deadline || b.OldMasterTimeout != 500*time.Millisecond {
		t.Errorf("defaults: %+v", b)
	}
	bad := map[string]string{
		"on_deadline":     "  on_deadline: maybe\n",
		"deadline":        "  deadline: -1s\n",
		"proxy kind":      "  proxy:\n    kind: nginx\n",
		"proxy block":     "  proxy:\n    kind: haproxy\n",
		"unknown cluster": "  clusters:\n    other:\n      probe:\n        writer_addr: 127.0.0.1:3306\n",
		"probe addr":      "  probe:\n    writer_addr: nowhere\n",
		"admin url":       "  admin_url: ftp://x\n",
	}
	for name, extra := range bad {
		if _, err := LoadConfig(hookConfig(t, t.TempDir(), extra)); err == nil || !strings.Contains(err.Error(), "hook") {
			t.Errorf("%s: want a hook config error, got %v", name, err)
		}
	}
	ok := "  on_deadline: open-writes\n  proxy:\n    kind: haproxy\n    haproxy:\n      socket: /run/h.sock\n      writer_backend: w\n" +
		"  clusters:\n    shop:\n      probe:\n        writer_addr: 127.0.0.1:3306\n      set_readers: false\n"
	c, err = LoadConfig(hookConfig(t, t.TempDir(), ok))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Hook.Routing("shop"); r.Probe.WriterAddr != "127.0.0.1:3306" || r.SetReaders == nil || *r.SetReaders {
		t.Errorf("per-cluster routing %+v", r)
	}
	if c.Hook.Routing("else").Proxy.Kind != "haproxy" {
		t.Error("default routing lost")
	}
}
