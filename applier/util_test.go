package applier

import (
	"database/sql"
	"encoding/hex"
	"sort"
	"testing"
)

// mustExec runs statements in order on one connection of db.
func mustExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range stmts {
		if _, err := conn.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// hexAll renders column values for comparison: hex, or NULL.
func hexAll(vals [][]byte) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		if v == nil {
			out[i] = "NULL"
			continue
		}
		out[i] = hex.EncodeToString(v)
	}
	return out
}

func sortStrings(s []string) { sort.Strings(s) }
