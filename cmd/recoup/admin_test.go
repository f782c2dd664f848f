package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
)

const adminTestToken = "t0ken-for-tests"

// adminCall sends one request to the admin API and decodes its JSON.
type adminCall struct {
	method, path, body, token string
}

func (c adminCall) do(t *testing.T, base string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && b[0] == '{' {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v: %s", c.method, c.path, err, b)
		}
	}
	return resp.StatusCode, out, resp.Header
}

// idleStreamer is a streamer whose Run is not running.
func idleStreamer(t *testing.T, cluster string) *streamer.Streamer {
	t.Helper()
	store, err := capture.OpenLocal(t.TempDir(), capture.LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s, err := streamer.New(streamer.Config{Cluster: cluster, Flavor: repl.MariaDB, Master: "127.0.0.1:1", User: "u",
		ServerID: 4100}, store, testLogger(t), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAdminAPIChecks: the token guards /status and every /v1 route (and
// only those), unknown clusters are 404 after authentication, and bad
// addresses and parameters are 400 with a message naming the field.
func TestAdminAPIChecks(t *testing.T) {
	h := adminHandler(prometheus.NewRegistry(), []*streamer.Streamer{idleStreamer(t, "shop")}, adminTestToken, testLogger(t))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, tc := range adminChecks() {
		t.Run(tc.name, func(t *testing.T) {
			code, out, hdr := tc.call.do(t, srv.URL)
			if code != tc.status {
				t.Fatalf("status %d, want %d (%v)", code, tc.status, out)
			}
			if msg, _ := out["error"].(string); !strings.Contains(msg, tc.inErr) {
				t.Errorf("error %q, want it to contain %q", msg, tc.inErr)
			}
			if code == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	t.Run("no token configured: open", func(t *testing.T) {
		open := httptest.NewServer(adminHandler(prometheus.NewRegistry(), []*streamer.Streamer{idleStreamer(t, "shop")}, "", testLogger(t)))
		defer open.Close()
		code, out, _ := adminCall{"GET", "/v1/clusters/shop/status", "", ""}.do(t, open.URL)
		if code != 200 || out["cluster"] != "shop" || out["master"] != "127.0.0.1:1" || out["running"] != false {
			t.Errorf("status = %d %v", code, out)
		}
	})
}

// adminCheck is one request and what the admin API must answer.
type adminCheck struct {
	name   string
	call   adminCall
	status int
	inErr  string // substring of the "error" field
}

func adminChecks() []adminCheck {
	bearer := "Bearer " + adminTestToken
	return []adminCheck{
		{"healthz open", adminCall{"GET", "/healthz", "", ""}, 200, ""},
		{"metrics open", adminCall{"GET", "/metrics", "", ""}, 200, ""},
		{"status needs the token", adminCall{"GET", "/status", "", ""}, 401, "bearer token"},
		{"v1 status needs the token", adminCall{"GET", "/v1/clusters/shop/status", "", ""}, 401, "bearer token"},
		{"wrong token", adminCall{"GET", "/v1/clusters/shop/status", "", "Bearer nope"}, 401, "bearer token"},
		{"token prefix", adminCall{"GET", "/v1/clusters/shop/status", "", "Bearer " + adminTestToken[:5]}, 401, ""},
		{"basic auth is not a token", adminCall{"GET", "/v1/clusters/shop/status", "", "Basic " + adminTestToken}, 401, ""},
		{"switch needs the token", adminCall{"POST", "/v1/clusters/shop/master", `{"master":"127.0.0.1:3306"}`, ""}, 401, ""},
		{"drain needs the token", adminCall{"POST", "/v1/clusters/shop/drain", "", ""}, 401, ""},
		{"unknown cluster: 401 before 404", adminCall{"POST", "/v1/clusters/nosuch/master", `{"master":"127.0.0.1:3306"}`, ""}, 401, ""},
		{"status with the token", adminCall{"GET", "/v1/clusters/shop/status", "", bearer}, 200, ""},
		{"bearer is case-insensitive", adminCall{"GET", "/status", "", "bearer " + adminTestToken}, 200, ""},
		{"unknown cluster", adminCall{"POST", "/v1/clusters/nosuch/master", `{"master":"127.0.0.1:3306"}`, bearer}, 404, `unknown cluster "nosuch"`},
		{"unknown cluster status", adminCall{"GET", "/v1/clusters/nosuch/status", "", bearer}, 404, "unknown cluster"},
		{"not JSON", adminCall{"POST", "/v1/clusters/shop/master", `master=db1`, bearer}, 400, "request body"},
		{"no master", adminCall{"POST", "/v1/clusters/shop/master", `{}`, bearer}, 400, "master: required"},
		{"no port", adminCall{"POST", "/v1/clusters/shop/master", `{"master":"db1"}`, bearer}, 400, `master: "db1" is not host:port`},
		{"port out of range", adminCall{"POST", "/v1/clusters/shop/master", `{"master":"db1:70000"}`, bearer}, 400, "port must be 1..65535"},
		{"port zero", adminCall{"POST", "/v1/clusters/shop/master", `{"master":"db1:0"}`, bearer}, 400, "port must be 1..65535"},
		{"no host", adminCall{"POST", "/v1/clusters/shop/master", `{"master":":3306"}`, bearer}, 400, "has no host"},
		{"bad old master", adminCall{"POST", "/v1/clusters/shop/master", `{"master":"db1:3306","old_master":"db0"}`, bearer}, 400, "old_master:"},
		{"bad timeout", adminCall{"POST", "/v1/clusters/shop/master?timeout=soon", `{"master":"db1:3306"}`, bearer}, 400, "timeout"},
		{"streamer not running", adminCall{"POST", "/v1/clusters/shop/master", `{"master":"127.0.0.1:3306"}`, bearer}, 503, "not running"},
		{"drain bad timeout", adminCall{"POST", "/v1/clusters/shop/drain?timeout=-1s", "", bearer}, 400, "timeout"},
		{"drain bad hold", adminCall{"POST", "/v1/clusters/shop/drain?hold=forever", "", bearer}, 400, "hold"},
		{"drain bad master", adminCall{"POST", "/v1/clusters/shop/drain?master=db0:99999", "", bearer}, 400, "master:"},
		{"drain streamer not running", adminCall{"POST", "/v1/clusters/shop/drain?timeout=1s", "", bearer}, 503, "not running"},
		{"wrong method", adminCall{"GET", "/v1/clusters/shop/master", "", bearer}, 405, ""},
	}
}

// adminPost posts JSON and fails the test unless the status is want.
func adminPost(t *testing.T, base, path string, body any, want int) map[string]any {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := adminCall{"POST", path, string(bytes.TrimSpace(b)), "Bearer " + adminTestToken}.do(t, base)
	if code != want {
		t.Fatalf("POST %s: status %d, want %d: %v", path, code, want, out)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runStreamer(t *testing.T, s *streamer.Streamer) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("streamer: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return stop
}
