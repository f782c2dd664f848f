package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoup-dev/recoup/test/sandbox"
)

// TestUpStatusDown runs the three commands against real servers.
func TestUpStatusDown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sb")
	t.Cleanup(func() { _ = sandbox.Down(t.Context(), dir) }) // if the test fails before down
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"up", "-replicas", "1", "-dir", dir, "-set", "binlog_format=MIXED"}, &out, &errOut); err != nil {
		t.Fatalf("up: %v\n%s", err, errOut.String())
	}
	pw, err := os.ReadFile(filepath.Join(dir, sandbox.PasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out.Bytes(), bytes.TrimSpace(pw)) || bytes.Contains(errOut.Bytes(), bytes.TrimSpace(pw)) {
		t.Fatal("up printed the password")
	}
	if !strings.Contains(out.String(), "db0") || !strings.Contains(out.String(), "replica") {
		t.Fatalf("up output lacks the instances:\n%s", out.String())
	}
	if err := run(t.Context(), []string{"up", "-dir", dir}, &out, &errOut); err == nil {
		t.Fatal("a second up on the same dir succeeded")
	}

	out.Reset()
	if err := run(t.Context(), []string{"status", "-dir", dir}, &out, &errOut); err != nil {
		t.Fatalf("status: %v", err)
	}
	if !strings.Contains(out.String(), "io=Yes sql=Yes") {
		t.Fatalf("status does not show a running replica:\n%s", out.String())
	}
	topo, err := sandbox.Attach(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := topo.Primary.Variable(t.Context(), "binlog_format"); err != nil || f != "MIXED" {
		t.Fatalf("-set binlog_format=MIXED: server has %q (%v)", f, err)
	}
	if err := topo.Close(); err != nil {
		t.Fatal(err)
	}

	out.Reset()
	if err := run(t.Context(), []string{"down", "-dir", dir}, &out, &errOut); err != nil {
		t.Fatalf("down: %v", err)
	}
	for _, in := range topo.Instances() {
		if in.Running() {
			t.Errorf("%s (pid %d) still running after down", in.Name, in.PID())
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("sandbox dir left after down: %v", err)
	}
	if err := run(t.Context(), []string{"down", "-dir", dir}, &out, &errOut); err != nil {
		t.Errorf("second down: %v", err)
	}
}
