package sandbox

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// launchTimeout bounds StartTopology; a 3-node topology normally starts in
// well under 2 seconds.
const launchTimeout = 3 * time.Minute

// StartTopology launches a topology for a test and registers its Close
// with t.Cleanup (servers killed, directories removed). Any failure,
// including missing MariaDB binaries, fails the test with the reason.
func StartTopology(t testing.TB, opts Options) *Topology {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), launchTimeout)
	defer cancel()
	topo, err := Launch(ctx, opts)
	if err != nil {
		t.Fatalf("starting MariaDB sandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Errorf("stopping MariaDB sandbox: %v", err)
		}
	})
	return topo
}

// StartInstance starts one standalone server with the given settings
// overrides (see Options.Settings and Drop).
func StartInstance(t testing.TB, settings map[string]string) *Instance {
	t.Helper()
	return StartTopology(t, Options{Settings: settings}).Primary
}

// DB returns the instance's cached pool (see Pool), failing the test if it
// cannot be opened. The topology's cleanup closes it: do not close it.
func (in *Instance) DB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := in.Pool()
	if err != nil {
		t.Fatalf("opening connection to %s: %v", in.Name, err)
	}
	return db
}
