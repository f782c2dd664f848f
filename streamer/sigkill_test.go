package streamer

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// Environment of a streamer child process (see init below). The password
// travels in the environment, never on the command line.
const (
	childEnv     = "RECOUP_STREAMER_CHILD"
	childAddr    = "RECOUP_STREAMER_CHILD_ADDR"
	childUser    = "RECOUP_STREAMER_CHILD_USER"
	childPass    = "RECOUP_STREAMER_CHILD_PASSWORD"
	childStore   = "RECOUP_STREAMER_CHILD_STORE"
	childServer  = "RECOUP_STREAMER_CHILD_SERVER_ID"
	childTimeout = time.Minute
)

// init turns the test binary into a streamer process when the parent test
// re-executes it: it captures until killed (or a minute passes).
func init() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	os.Exit(runChild())
}

func runChild() int {
	id, _ := strconv.ParseUint(os.Getenv(childServer), 10, 32)
	store, err := openChildStore(os.Getenv(childStore))
	if err != nil {
		return 2
	}
	cfg := Config{Cluster: "test", Flavor: repl.MariaDB, Master: os.Getenv(childAddr), User: os.Getenv(childUser),
		Password: os.Getenv(childPass), ServerID: uint32(id), ReconnectMin: 20 * time.Millisecond}
	s, err := New(cfg, store, nil, prometheus.NewRegistry())
	if err != nil {
		return 3
	}
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		return 4
	}
	return 0
}

// TestSIGKILLResume kills a streamer process with SIGKILL at random points
// while a writer commits, restarts it, and checks the log holds every
// transaction exactly once, in order.
func TestSIGKILLResume(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := inst.DB(t)
	execAll(t, db, "CREATE DATABASE app", "CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, b BLOB)")
	dir := t.TempDir()
	ctx, stopWriter := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		writeLoad(ctx, t, inst, 1<<30)
	}()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 6; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", childAddr+"="+inst.Addr(), childUser+"="+inst.User,
			childPass+"="+inst.Password, childStore+"="+dir, childServer+"="+strconv.Itoa(5000+int(inst.ServerID)))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+rng.IntN(350)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait() // "signal: killed"
	}
	stopWriter()
	wg.Wait()
	store := openStore(t, dir)
	defer store.Close()
	recs := readLog(t, store)
	if len(txnRecords(recs)) == 0 {
		t.Fatal("the killed streamer processes captured nothing")
	}
	// Capture began where the first process found the master.
	initial := recs[0].After
	r := startStreamer(t, capConfig(inst), store)
	waitCaptured(t, r, inst)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	txns := txnRecords(readLog(t, store))
	checkAgainstBinlog(t, txns, afterInitial(binlogGTIDs(t, db), initial), initial)
	t.Logf("%d transactions captured across 6 SIGKILLs", len(txns))
}

func openChildStore(dir string) (*capture.Local, error) {
	return capture.OpenLocal(dir, capture.LocalOptions{Logger: slog.New(slog.DiscardHandler)})
}
