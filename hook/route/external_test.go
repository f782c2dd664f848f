package route

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// proxyScript answers like a proxy-switching program would; it writes its
// RECOUP_* environment to $1/<action>.env and misbehaves on request
// (files "fail", "slow", "flood" in $1).
const proxyScript = `dir="$1"
env | grep '^RECOUP_' | sort > "$dir/$RECOUP_ACTION.env"
[ -e "$dir/fail" ] && { echo "proxy said no" >&2; exit 7; }
[ -e "$dir/slow" ] && { sleep 30; exit 0; }
[ -e "$dir/flood" ] && { head -c 1000000 /dev/zero | tr '\0' x >&2; exit 2; }
case "$RECOUP_ACTION" in
preflight) echo "warning one"; echo; echo "  warning two  " ;;
state) echo '{"writers":[{"addr":"10.0.0.2:3306","status":"UP","enabled":true,"up":true}],"readers":[{"addr":"10.0.0.3:3306","status":"UP","enabled":true,"up":true}]}' ;;
verify) [ "$RECOUP_NEW_MASTER_HOST:$RECOUP_NEW_MASTER_PORT" = "10.0.0.2:3306" ] || exit 1 ;;
esac
exit 0`

func TestCommandRouter(t *testing.T) {
	dir := t.TempDir()
	script := writeScript(t, dir, "proxy.sh", proxyScript)
	t.Setenv("RECOUP_NEW_MASTER_HOST", "inherited") // must not reach the command
	r, err := New(Config{Kind: KindCommand, Command: &CommandConfig{Argv: []string{script, dir}, Timeout: 5 * time.Second}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithFailover(t.Context(), Failover{Cluster: "shop", OldMaster: "10.0.0.1:3306", NewMaster: "10.0.0.2:3306"})
	warns, err := r.Preflight(ctx)
	if err != nil || !slices.Equal(warns, []string{"warning one", "warning two"}) {
		t.Fatalf("Preflight = %q, %v", warns, err)
	}
	if err := r.FenceWriter(ctx); err != nil {
		t.Fatal(err)
	}
	wantEnv(t, dir, "fence", "RECOUP_ACTION=fence", "RECOUP_CLUSTER=shop", "RECOUP_NEW_MASTER_HOST=10.0.0.2",
		"RECOUP_NEW_MASTER_PORT=3306", "RECOUP_OLD_MASTER_HOST=10.0.0.1", "RECOUP_OLD_MASTER_PORT=3306")
	if err := r.SetWriter(ctx, "localhost:3307"); err != nil {
		t.Fatal(err)
	}
	wantEnv(t, dir, "set-writer", "RECOUP_ACTION=set-writer", "RECOUP_CLUSTER=shop", "RECOUP_NEW_MASTER_HOST=127.0.0.1",
		"RECOUP_NEW_MASTER_PORT=3307", "RECOUP_OLD_MASTER_HOST=10.0.0.1", "RECOUP_OLD_MASTER_PORT=3306")
	if err := r.SetReaders(ctx, []string{"10.0.0.3:3306", "[::1]:3306"}); err != nil {
		t.Fatal(err)
	}
	if env := readTestFile(t, filepath.Join(dir, "set-readers.env")); !strings.Contains(env, "RECOUP_READERS=10.0.0.3:3306,[::1]:3306\n") {
		t.Fatalf("set-readers environment:\n%s", env)
	}
	st, err := r.State(ctx)
	if err != nil || len(st.Writers) != 1 || st.Writers[0].Addr != "10.0.0.2:3306" || len(st.Readers) != 1 {
		t.Fatalf("State = %s, %v", st, err)
	}
	if err := r.Verify(ctx, "10.0.0.2:3306"); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(ctx, "10.0.0.9:3306"); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("Verify(wrong master) = %v", err)
	}
	if err := r.Persist(ctx); err != nil {
		t.Fatal(err)
	}
}

func wantEnv(t *testing.T, dir, action string, want ...string) {
	t.Helper()
	got := strings.Fields(readTestFile(t, filepath.Join(dir, action+".env")))
	if !slices.Equal(got, want) {
		t.Fatalf("%s environment:\n  %q\nwant\n  %q", action, got, want)
	}
}

func TestCommandFailures(t *testing.T) {
	dir := t.TempDir()
	script := writeScript(t, dir, "proxy.sh", proxyScript)
	r, err := NewCommand(CommandConfig{Argv: []string{script, dir}, Timeout: 20 * time.Second}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	quick, err := NewCommand(CommandConfig{Argv: []string{script, dir}, Timeout: 300 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	tests := []struct {
		flag  string
		r     *External
		check func(error) bool
	}{
		{"fail", r, func(err error) bool {
			var ee *ExitError
			return errors.As(err, &ee) && ee.Code == 7 && strings.Contains(err.Error(), "proxy said no")
		}},
		{"slow", quick, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"flood", r, func(err error) bool {
			return strings.Contains(err.Error(), "more bytes dropped") && len(err.Error()) < 8192
		}},
	}
	for _, tc := range tests {
		t.Run(tc.flag, func(t *testing.T) {
			flag := filepath.Join(dir, tc.flag)
			writeTestFile(t, flag, "")
			defer os.Remove(flag)
			if err := tc.r.FenceWriter(ctx); err == nil || !tc.check(err) {
				t.Fatalf("FenceWriter = %v", err)
			}
		})
	}
	if _, err := NewCommand(CommandConfig{Argv: []string{"no-such-program-recoup"}}, testLogger(t)); err == nil {
		t.Fatal("a missing program was accepted")
	}
}

// fakeWebhook records events and answers like a proxy controller.
type fakeWebhook struct {
	mu     sync.Mutex
	events []Event
	token  string
	fail   bool
}

func (f *fakeWebhook) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/moved" {
		http.Redirect(w, req, "/hook", http.StatusFound)
		return
	}
	if req.Method != http.MethodPost || req.Header.Get("Authorization") != "Bearer "+f.token ||
		req.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var ev Event
	if err := json.NewDecoder(req.Body).Decode(&ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.events = append(f.events, ev)
	fail := f.fail
	f.mu.Unlock()
	switch {
	case fail:
		http.Error(w, "controller is read-only", http.StatusServiceUnavailable)
	case ev.Action == ActionState:
		w.Write([]byte(`{"writers":[{"addr":"10.0.0.2:3306","status":"ok","enabled":true,"up":true}]}`))
	case ev.Action == ActionPreflight:
		w.Write([]byte(`{"warnings":["pool is small"]}`))
	case ev.Action == ActionVerify && (ev.NewMaster == nil || ev.NewMaster.Host != "10.0.0.2"):
		http.Error(w, "writer is elsewhere", http.StatusConflict)
	}
}

func TestWebhookRouter(t *testing.T) {
	hook := &fakeWebhook{token: "t0ken"}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeTestFile(t, tokenFile, "t0ken\nignored second line\n")
	r, err := New(Config{Kind: KindWebhook, Webhook: &WebhookConfig{URL: srv.URL + "/hook", TokenFile: tokenFile}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithFailover(t.Context(), Failover{Cluster: "shop", OldMaster: "10.0.0.1:3306"})
	if warns, err := r.Preflight(ctx); err != nil || !slices.Equal(warns, []string{"pool is small"}) {
		t.Fatalf("Preflight = %q, %v", warns, err)
	}
	if err := r.FenceWriter(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.SetWriter(ctx, "10.0.0.2:3306"); err != nil {
		t.Fatal(err)
	}
	if err := WaitVerified(ctx, r, "10.0.0.2:3306", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(ctx, "10.0.0.5:3306"); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("Verify(wrong) = %v", err)
	}
	if st, err := r.State(ctx); err != nil || st.Writers[0].Addr != "10.0.0.2:3306" {
		t.Fatalf("State = %s, %v", st, err)
	}
	hook.mu.Lock()
	set := hook.events[2]
	hook.fail = true
	hook.mu.Unlock()
	want := Event{Action: ActionSetWriter, Cluster: "shop", OldMaster: &Endpoint{"10.0.0.1", 3306}, NewMaster: &Endpoint{"10.0.0.2", 3306}}
	if set.Action != want.Action || set.Cluster != want.Cluster || *set.OldMaster != *want.OldMaster || *set.NewMaster != *want.NewMaster {
		t.Fatalf("set-writer event = %+v", set)
	}
	if err := r.Persist(ctx); err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Persist against a failing controller = %v", err)
	}
	for _, cfg := range []WebhookConfig{{URL: srv.URL + "/moved"}, {URL: srv.URL + "/hook"}} {
		wr, err := NewWebhook(cfg, "wrong", testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := wr.FenceWriter(ctx); err == nil {
			t.Errorf("webhook %s with a wrong token or a redirect succeeded", cfg.URL)
		}
	}
}
