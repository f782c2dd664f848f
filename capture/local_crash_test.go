package capture_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/capture"
	"github.com/recoup-dev/recoup/capture/storetest"
)

const crashChildEnv = "RECOUP_CAPTURE_CRASH_CHILD_DIR"

// crashRecord is storetest.Record(i) with an extra 24 KiB event, so that
// batches take long enough to write for kills to land inside them.
func crashRecord(i int64) capture.Record {
	r := storetest.Record(i)
	if r.Kind == capture.KindTxn {
		r.Events = append(r.Events, storetest.LargeRecord(uint64(i), 24<<10).Events...)
	}
	return r
}

// TestLocalCrash re-executes the test binary as a child that appends
// batches and prints each acknowledged end offset, and SIGKILLs it at
// random moments. SIGKILL loses no page cache, so to model a power loss
// the test then cuts the last segment at a random byte after the last
// acknowledged frame and, one time in two, appends garbage (an unwritten
// block). The reopened log must hold every acknowledged record exactly
// once, in order, and nothing but whole records of the expected sequence;
// the next child resumes from Bounds.
func TestLocalCrash(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir) // never returns
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var logs logBuffer
	for round := range 6 {
		ack := runAndKill(t, dir, time.Duration(30+rng.IntN(250))*time.Millisecond)
		loseUnsynced(t, dir, ack, rng)
		l := openLocal(t, dir, capture.LocalOptions{SegmentBytes: 1 << 20, Logger: logs.Logger()})
		_, next, err := l.Bounds(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if next < ack.next {
			t.Fatalf("round %d: log ends at %d, but the child had acknowledged %d records", round, next, ack.next)
		}
		checkCrashLog(t, l, next)
		t.Logf("round %d: %d acknowledged, %d in the log", round, ack.next, next)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "torn tail"); n == 0 {
		t.Fatal("no reopen truncated a torn tail: the test did not exercise recovery")
	}
}

// ack is the child's last acknowledged state: the log's end offset and
// the size of its last segment then.
type ack struct {
	next    int64
	segment string
	size    int64
}

// loseUnsynced cuts the last segment at a random size no smaller than what
// was acknowledged in it, and may append garbage. Earlier segments were
// fsynced before the next one was created, so they are kept whole.
func loseUnsynced(t *testing.T, dir string, a ack, rng *rand.Rand) {
	segs := segmentFiles(t, dir)
	last := segs[len(segs)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	var keep int64
	if filepath.Base(last) == a.segment {
		keep = a.size
	}
	cut := keep + rng.Int64N(fi.Size()-keep+1)
	if err := os.Truncate(last, cut); err != nil {
		t.Fatal(err)
	}
	if rng.IntN(2) == 0 {
		junk := make([]byte, 1+rng.IntN(8192))
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		appendBytes(t, last, junk)
	}
}

func checkCrashLog(t *testing.T, l *capture.Local, next int64) {
	t.Helper()
	r, err := l.ReadFrom(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for off := range next {
		got, err := r.Next(context.Background())
		if err != nil {
			t.Fatalf("Next at %d: %v", off, err)
		}
		if d := storetest.Diff(crashRecord(off), got); d != "" || got.Offset != off {
			t.Fatalf("record at %d (Offset %d) differs: %s", off, got.Offset, d)
		}
	}
}

// runAndKill starts a child on dir, kills it about d after its first
// acknowledged append and returns the last state it acknowledged.
func runAndKill(t *testing.T, dir string, d time.Duration) ack {
	cmd := exec.Command(os.Args[0], "-test.run=^TestLocalCrash$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acks := make(chan ack, 1024)
	go func() {
		defer close(acks)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var a ack
			if _, err := fmt.Sscanf(sc.Text(), "acked %d %s %d", &a.next, &a.segment, &a.size); err == nil {
				acks <- a
			}
		}
	}()
	last, ok := <-acks // the random delay starts once the child appends
	if !ok {
		t.Fatalf("child exited before its first append: %v", cmd.Wait())
	}
	timer := time.After(d)
	for done := false; !done; {
		select {
		case a, ok := <-acks:
			if !ok {
				t.Fatalf("child exited before it was killed: %v", cmd.Wait())
			}
			last = a
		case <-timer:
			done = true
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for a := range acks { // lines written before the kill
		last = a
	}
	_ = cmd.Wait() // "signal: killed" is the expected outcome
	return last
}

// crashChild appends batches of 1 to 40 records forever, printing the end
// offset and the last segment's name and size after each acknowledged
// Append.
func crashChild(dir string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	l, err := capture.OpenLocal(dir, capture.LocalOptions{SegmentBytes: 1 << 20})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	_, next, err := l.Bounds(ctx)
	if err != nil {
		fail(err)
	}
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	for {
		n := 1 + rng.IntN(40)
		batch := make([]capture.Record, n)
		for i := range batch {
			batch[i] = crashRecord(next + int64(i))
		}
		if err := l.Append(ctx, batch...); err != nil {
			fail(err)
		}
		next += int64(n)
		segs, err := filepath.Glob(filepath.Join(dir, "*.log"))
		if err != nil {
			fail(err)
		}
		fi, err := os.Stat(segs[len(segs)-1])
		if err != nil {
			fail(err)
		}
		if _, err := fmt.Fprintf(os.Stdout, "acked %d %s %d\n", next, fi.Name(), fi.Size()); err != nil {
			fail(err)
		}
	}
}
