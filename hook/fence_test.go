package hook

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestServerOnMariaDB drives the SQL steps against a real primary and
// replica: fence and unfence, stop and reset replication, kill client
// connections (but not replication's), the cluster lock.
func TestServerOnMariaDB(t *testing.T) {
	topo := sandbox.StartTopology(t, sandbox.Options{Replicas: 1})
	primary := NewServer(topo.Primary.Addr(), repl.MariaDB, topo.Primary.DB(t), nil)
	replica := NewServer(topo.Replicas[0].Addr(), repl.MariaDB, topo.Replicas[0].DB(t), nil)
	t.Run("kill clients", func(t *testing.T) { testKillClients(t, topo, primary) })
	t.Run("fence", func(t *testing.T) { testFenceNewMaster(t, topo, replica) })
	t.Run("lock", func(t *testing.T) { testClusterLock(t, primary) })
}

func testKillClients(t *testing.T, topo *sandbox.Topology, primary *Server) {
	ctx := t.Context()
	// A client session must die; the replica's binlog dump must not.
	if _, err := topo.Primary.Exec(ctx, "CREATE DATABASE before_kill"); err != nil {
		t.Fatal(err)
	}
	victim, err := topo.Primary.DB(t).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	if _, err := victim.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	om := &oldMaster{srv: primary}
	f, err := om.Fence(ctx)
	if err != nil || !f.Reached || f.Killed < 1 || f.Position == "" {
		t.Fatalf("old fence %+v err %v", f, err)
	}
	if _, err := victim.ExecContext(ctx, "SELECT 1"); err == nil {
		t.Error("the client connection survived the fence")
	}
	if w, _ := primary.Writable(ctx); w {
		t.Error("old master still writable")
	}
	if err := primary.SetReadOnly(ctx, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := topo.Primary.Exec(ctx, "CREATE DATABASE after_kill"); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.WaitCaughtUp(ctx, topo.Replicas[0], topo.Primary); err != nil {
		t.Errorf("replication broken by the kill: %v", err)
	}
}

func testFenceNewMaster(t *testing.T, topo *sandbox.Topology, replica *Server) {
	ctx := t.Context()
	// Orchestrator's default promotion has made it writable already.
	if err := replica.SetReadOnly(ctx, false, false); err != nil {
		t.Fatal(err)
	}
	nm := &newMaster{srv: replica, lock: LockName("shop")}
	fi, err := nm.Fence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.WasWritable || !fi.WasReplicating || fi.Identity.ServerID != topo.Replicas[0].ServerID {
		t.Errorf("fence info %+v", fi)
	}
	if w, err := replica.Writable(ctx); err != nil || w {
		t.Errorf("after fence writable=%v err=%v", w, err)
	}
	rs, err := replica.Replica(ctx)
	if err != nil || rs.Running || !rs.Configured {
		t.Errorf("after fence replica state %+v err %v", rs, err)
	}
	if was, err := nm.Detach(ctx); err != nil || !was {
		t.Fatalf("detach: %v %v", was, err)
	}
	if rs, err := replica.Replica(ctx); err != nil || rs.Configured {
		t.Errorf("after detach replica state %+v err %v", rs, err)
	}
	if was, err := nm.Detach(ctx); err != nil || was {
		t.Errorf("second detach: %v %v", was, err)
	}
	if err := nm.Unfence(ctx); err != nil {
		t.Fatal(err)
	}
	if w, _ := replica.Writable(ctx); !w {
		t.Error("unfence left read_only on")
	}
}

func testClusterLock(t *testing.T, primary *Server) {
	ctx := t.Context()
	name := LockName("shop")
	l1, err := AcquireLock(ctx, primary.DB, name, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = AcquireLock(ctx, primary.DB, name, time.Second)
	if !errors.Is(err, ErrLockTimeout) || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("second lock: %v after %s", err, time.Since(start))
	}
	// A waiter gets the lock as soon as the holder releases it.
	got := make(chan error, 1)
	go func() {
		l, err := AcquireLock(ctx, primary.DB, name, 10*time.Second)
		if err == nil {
			err = l.Release()
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := l1.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter did not get the released lock")
	}
	// A deadline shorter than the lock timeout bounds the wait.
	l3, err := AcquireLock(ctx, primary.DB, name, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Release()
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := AcquireLock(dctx, primary.DB, name, time.Minute); err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("lock under a short deadline: %v after %s", err, time.Since(start))
	}
}

func TestLockName(t *testing.T) {
	long := strings.Repeat("a_b", 40)
	cases := map[string]string{"shop": "recoup:shop", "127.0.0.1:33306": "recoup:127.0.0.1_3a33306"}
	for in, want := range cases {
		if got := LockName(in); got != want {
			t.Errorf("LockName(%q) = %q, want %q", in, got, want)
		}
	}
	a, b := LockName(long), LockName(long+"x")
	if len(a) > maxLockName || len(b) > maxLockName || a == b {
		t.Errorf("long names %q %q", a, b)
	}
}
