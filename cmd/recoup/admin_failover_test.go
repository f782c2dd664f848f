package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/capture/storetest"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestAdminFailover: a writer commits on the primary while the streamer
// captures it; the streamer stops (so it is not connected when the master
// dies); the master is killed with the writer running; a replica is
// promoted. A new streamer on the same log cannot reach the old master;
// the hook's calls go through the admin API: drain (capture from the old
// master is "unknown after" its last captured GTID, Connected false),
// then the switch. The new master writes more. The log must hold every
// transaction the new master has (the old master's that reached it, and
// its own) exactly once and in order, the failure record then the switch.
func TestAdminFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	topo := sandbox.StartTopology(t, sandbox.Options{Replicas: 2})
	old := topo.Primary
	store, err := capture.OpenLocal(t.TempDir(), capture.LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := streamer.Config{Cluster: "shop", Flavor: repl.MariaDB, Master: old.Addr(), User: topo.User,
		Password: topo.Password, ServerID: 4101, HeartbeatPeriod: 200 * time.Millisecond,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}
	initial := killWhileWriting(ctx, t, topo, cfg, store)
	nm := topo.Primary

	second := newTestStreamer(t, cfg, store)
	runStreamer(t, second)
	srv := httptest.NewServer(adminHandler(prometheus.NewRegistry(), []*streamer.Streamer{second}, adminTestToken, testLogger(t)))
	defer srv.Close()
	waitFor(t, "the streamer to try the dead master", func() bool { return second.Status().LastError != "" })

	drained := adminPost(t, srv.URL, "/v1/clusters/shop/drain?timeout=20s&master="+old.Addr(), nil, 200)
	if drained["state"] != capture.StateUnknownAfter || drained["connected_at_failure"] != false || drained["master"] != old.Addr() {
		t.Fatalf("drain = %v, want unknown-after, not connected", drained)
	}
	req := map[string]string{"master": nm.Addr(), "old_master": old.Addr(), "recovery_uid": "r-1"}
	sw := adminPost(t, srv.URL, "/v1/clusters/shop/master?timeout=30s", req, 200)
	if sw["master"] != nm.Addr() || sw["previous_master"] != old.Addr() || sw["already"] != false || sw["connected_at_failure"] != false {
		t.Fatalf("switch = %v", sw)
	}
	if again := adminPost(t, srv.URL, "/v1/clusters/shop/master", req, 200); again["already"] != true {
		t.Errorf("repeated switch = %v, want already", again)
	}
	refusedSwitches(t, srv.URL, topo.Replicas[0].Addr(), old.Addr())

	for i := 0; i < 3; i++ {
		mustExec(t, nm, "INSERT INTO shop.t (v) VALUES (1000)")
	}
	want := mustPos(t, nm)
	waitFor(t, "the new master's writes captured", func() bool {
		st := second.Status()
		return st.Connected && want.Subset(st.Position)
	})
	code, st, _ := adminCall{"GET", "/v1/clusters/shop/status", "", "Bearer " + adminTestToken}.do(t, srv.URL)
	if code != 200 || st["master"] != nm.Addr() || st["connected"] != true || st["switched"] != true {
		t.Errorf("status = %d %v", code, st)
	}
	checkFailoverLog(t, store, nm, old.Addr(), initial)
}

// killWhileWriting: a streamer captures the primary under a writer, then
// stops; the writer goes on; the primary is killed with the writer
// running, and the most advanced replica promoted. It returns the
// position capture began at.
func killWhileWriting(ctx context.Context, t *testing.T, topo *sandbox.Topology, cfg streamer.Config, store capture.Store) repl.GTIDSet {
	t.Helper()
	old := topo.Primary
	mustExec(t, old, "CREATE DATABASE shop", "CREATE TABLE shop.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	if err := topo.WaitCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	first := newTestStreamer(t, cfg, store)
	stop := runStreamer(t, first)
	initial := mustPos(t, old)
	waitFor(t, "capture to start", func() bool { return initial.Subset(first.Status().Position) })
	w := startWriter(t, old)
	waitFor(t, "20 rows captured", func() bool { return first.Status().Position.Count() >= initial.Count()+20 })
	stop() // the streamer is down when the master dies
	time.Sleep(100 * time.Millisecond)
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	w.stop()
	if _, err := topo.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	return initial
}

// refusedSwitches: a switch naming an old master the streamer does not
// read, and a switch to a replica, are refused with 409.
func refusedSwitches(t *testing.T, base, replica, old string) {
	t.Helper()
	other := map[string]string{"master": replica, "old_master": old}
	if out := adminPost(t, base, "/v1/clusters/shop/master", other, 409); !strings.Contains(fmt.Sprint(out["error"]), "does not read") {
		t.Errorf("switch naming a stale old master = %v", out)
	}
	delete(other, "old_master")
	if out := adminPost(t, base, "/v1/clusters/shop/master", other, 409); !strings.Contains(fmt.Sprint(out["error"]), "replicates from another server") {
		t.Errorf("switch to a replica = %v", out)
	}
}

func newTestStreamer(t *testing.T, cfg streamer.Config, store capture.Store) *streamer.Streamer {
	t.Helper()
	s, err := streamer.New(cfg, store, testLogger(t), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writer inserts rows on a server until stopped (or the server dies).
type writer struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startWriter(t *testing.T, in *sandbox.Instance) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{cancel: cancel}
	db := in.DB(t)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := db.ExecContext(ctx, "INSERT INTO shop.t (v) VALUES (?)", i); err != nil {
				return // killed
			}
		}
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *writer) stop() { w.cancel(); w.wg.Wait() }

// checkFailoverLog: the deduplicated log holds exactly the new master's
// binlog transactions since capture began, in order; no transaction twice
// even without Dedupe; the old master's failure (not connected) comes
// right before the switch.
func checkFailoverLog(t *testing.T, store capture.Store, nm *sandbox.Instance, oldAddr string, initial repl.GTIDSet) {
	t.Helper()
	all, deduped := readAll(t, store, false), readAll(t, store, true)
	var got []string
	seen := map[repl.GTID]bool{}
	for _, r := range all {
		if r.Kind == capture.KindTxn {
			if seen[r.GTID] {
				t.Errorf("transaction %s is in the log twice", r.GTID)
			}
			seen[r.GTID] = true
		}
	}
	for _, r := range deduped {
		if r.Kind == capture.KindTxn {
			got = append(got, r.GTID.String())
		}
	}
	var want []string
	for _, g := range binlogGTIDList(t, nm) {
		if !initial.Contains(g) {
			want = append(want, g.String())
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("log transactions:\n got %v\nwant %v (the new master's binlog)", got, want)
	}
	for i, r := range all {
		if r.Kind != capture.KindMasterSwitch {
			continue
		}
		f := all[i-1]
		if r.From != oldAddr || r.To != nm.Addr() || f.Kind != capture.KindMasterState || !f.Failed || f.Connected || f.Master != oldAddr {
			t.Errorf("failure then switch = %+v, %+v", f, r)
		}
		if c := capture.CaptureStatus(all[:i], oldAddr); c.State != capture.StateUnknownAfter || !c.Failed {
			t.Errorf("capture status of the old master = %+v", c)
		}
		return
	}
	t.Error("no switch record")
}

func readAll(t *testing.T, store capture.Store, dedupe bool) []capture.Record {
	t.Helper()
	return storetest.ReadLog(t, store, dedupe)
}

// binlogGTIDList lists the GTIDs of a server's binlog in order.
func binlogGTIDList(t *testing.T, in *sandbox.Instance) []repl.GTID {
	t.Helper()
	db := in.DB(t)
	rows, err := db.Query("SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for rows.Next() {
		var f string
		var size any
		if err := rows.Scan(&f, &size); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	rows.Close()
	var out []repl.GTID
	for _, f := range files {
		ev, err := db.Query("SHOW BINLOG EVENTS IN '" + f + "'")
		if err != nil {
			t.Fatal(err)
		}
		for ev.Next() {
			var name, typ, info string
			var pos, sid, end any
			if err := ev.Scan(&name, &pos, &typ, &sid, &end, &info); err != nil {
				t.Fatal(err)
			}
			if typ != "Gtid" {
				continue
			}
			fields := strings.Fields(info)
			g, err := repl.ParseGTID(repl.MariaDB, fields[len(fields)-1])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, g)
		}
		ev.Close()
	}
	return out
}
