package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/test/logtest"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestStreamOneClusterStopsOthersGoOn: a cluster whose master refuses
// preflight (binary log off) stops with a clear error and /healthz says so,
// while the other cluster keeps capturing.
func TestStreamOneClusterStopsOthersGoOn(t *testing.T) {
	good := sandbox.StartInstance(t, nil)
	bad := sandbox.StartInstance(t, map[string]string{"log_bin": sandbox.Drop})
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	writeFile(t, pw, good.Password)
	badPw := filepath.Join(dir, "badpw")
	writeFile(t, badPw, bad.Password)
	admin := freeLoopbackAddr(t)
	cfg := fmt.Sprintf(`clusters:
  - {name: good, master: %s, user: %s, password_file: %s, server_id: 4001}
  - {name: bad, master: %s, user: %s, password_file: %s, server_id: 4002}
store:
  local: {dir: %s}
admin:
  listen: %s
`, good.Addr(), good.User, pw, bad.Addr(), bad.User, badPw, filepath.Join(dir, "store"), admin)
	cfgPath := filepath.Join(dir, "recoup.yaml")
	writeFile(t, cfgPath, cfg)

	ctx, cancel := context.WithCancel(t.Context())
	var stderr logtest.Buffer // the daemon's goroutines log to it concurrently
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"stream", "--config", cfgPath}, io.Discard, &stderr)
	}()

	body := waitHealth(t, admin, http.StatusServiceUnavailable)
	if !strings.Contains(body, "cluster bad: capture stopped") || !strings.Contains(body, "log_bin") || strings.Contains(body, "cluster good") {
		t.Errorf("/healthz body = %q; want only cluster bad, naming log_bin", body)
	}
	mustExec(t, good, "CREATE DATABASE still_captured")
	waitCaptured(t, filepath.Join(dir, "store", "good"), mustPos(t, good))
	cancel()
	select {
	case code := <-done:
		if code == 0 {
			t.Errorf("recoup stream exited 0 although cluster bad stopped")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("recoup stream did not stop after its context ended")
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func freeLoopbackAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealth polls /healthz until it answers want, and returns the body.
func waitHealth(t *testing.T, addr string, want int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
			if resp.StatusCode == want {
				return string(b)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/healthz never answered %d; last: %s", want, last)
	return ""
}
