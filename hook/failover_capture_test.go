package hook

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/capture/storetest"
	"github.com/recoup-dev/recoup/repl"
)

// captureLog is a real local store holding storetest's first nine
// transactions (0-1-1 .. 0-1-9) from master db1:3306.
func captureLog(t *testing.T) (*capture.Local, func(ctx context.Context) (capture.Store, error)) {
	dir := t.TempDir()
	st, err := capture.OpenLocal(dir, capture.LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Append(t.Context(), storetest.Records(0, 9)...); err != nil {
		t.Fatal(err)
	}
	return st, func(context.Context) (capture.Store, error) { return capture.OpenLocalReadOnly(dir) }
}

func TestSettle(t *testing.T) {
	st, open := captureLog(t)
	s := &settler{cluster: "cl1", old: "db1:3306", new: "db2:3306", flavor: repl.MariaDB, open: open,
		wait: 300 * time.Millisecond, log: slog.New(slog.DiscardHandler)}

	t.Run("old position captured", func(t *testing.T) {
		info, err := s.Settle(t.Context(), OldFence{Reached: true, Position: "0-1-9"})
		if err != nil || !info.Settled || info.Last != "0-1-9" {
			t.Errorf("info %+v err %v", info, err)
		}
	})
	t.Run("old position not captured", func(t *testing.T) {
		info, err := s.Settle(t.Context(), OldFence{Reached: true, Position: "0-1-12"})
		if err == nil || info.Settled || !strings.Contains(err.Error(), "not captured") {
			t.Errorf("info %+v err %v", info, err)
		}
	})
	t.Run("old master unreached, no disconnect record", func(t *testing.T) {
		start := time.Now()
		info, err := s.Settle(t.Context(), OldFence{})
		if err != nil || info.Settled || !strings.Contains(info.Detail, "not settled") || time.Since(start) < 250*time.Millisecond {
			t.Errorf("info %+v err %v after %s", info, err, time.Since(start))
		}
	})
	t.Run("streamer records the loss", func(t *testing.T) {
		time.AfterFunc(100*time.Millisecond, func() {
			last := storetest.Record(8)
			rec := capture.Record{Kind: capture.KindMasterState, Cluster: "cl1", Master: "db1:3306", After: last.After, GTID: last.GTID}
			if err := st.Append(context.Background(), rec); err != nil {
				t.Error(err)
			}
		})
		s.wait = 5 * time.Second
		start := time.Now()
		info, err := s.Settle(t.Context(), OldFence{})
		if err != nil || !info.Settled || time.Since(start) > 3*time.Second {
			t.Errorf("info %+v err %v after %s", info, err, time.Since(start))
		}
	})
}

func TestSettleTellsTheDaemon(t *testing.T) {
	_, open := captureLog(t)
	var got map[string]string
	var auth, path string
	refuse := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, path = r.Header.Get("Authorization"), r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery
		switch {
		case r.URL.Path == "/v1/clusters/cl/1/master" && refuse:
			http.Error(w, `{"error": "the new master 127.0.0.1:2 is a replica"}`, http.StatusConflict)
		case r.URL.Path == "/v1/clusters/cl/1/master":
			if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
			}
			w.Write([]byte(`{"master": "db2:3306", "previous_master": "db1:3306", "captured": "0-1-9"}`))
		case r.URL.Path == "/v1/clusters/cl/1/drain":
			w.Write([]byte(`{"master": "db1:3306", "state": "complete", "summary": "complete up to the crash"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	s := &settler{cluster: "cl/1", old: "db1:3306", new: "db2:3306", uid: "9:x", flavor: repl.MariaDB, open: open,
		wait: time.Second, admin: &Admin{URL: srv.URL + "/", Token: "t0k"}, log: slog.New(slog.DiscardHandler)}
	info, err := s.Settle(t.Context(), OldFence{Reached: true, Position: "0-1-9"})
	if err != nil || !info.Switched || info.Mode != "daemon" || !strings.Contains(info.Detail, "switched from db1:3306") {
		t.Fatalf("info %+v err %v", info, err)
	}
	if auth != "Bearer t0k" || path != "POST /v1/clusters/cl/1/master?timeout=1s" || got["master"] != "db2:3306" ||
		got["old_master"] != "db1:3306" || got["recovery_uid"] != "9:x" {
		t.Errorf("request %s auth %q body %v", path, auth, got)
	}
	// A daemon that refuses the switch is asked to drain; the log is read
	// directly either way.
	refuse = true
	info, err = s.Settle(t.Context(), OldFence{Reached: true, Position: "0-1-9"})
	if err != nil || info.Switched || !strings.Contains(info.Detail, "409") || !strings.Contains(info.Detail, "drained: complete") ||
		path != "POST /v1/clusters/cl/1/drain?master=db1%3A3306&timeout=1s" {
		t.Errorf("refusing daemon: info %+v err %v, last request %s", info, err, path)
	}
}
