package deploy_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// failover walks a compensated failover with grants.sql's accounts only:
// the streamer reads the old master, the hook stops replication on the
// new master, replays a transaction the new master lacks from its real row
// events with its original GTID while read_only=ON, fences the old master
// and kills its clients, then opens the new master.
func failover(t *testing.T, r *rig) {
	ctx := t.Context()
	stream := r.connect(t, r.old, "recoup_stream")
	var pos string
	if err := stream.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&pos); err != nil || pos == "" {
		t.Fatalf("streamer reading gtid_binlog_pos: %q, %v", pos, err)
	}
	if err := r.dump(t, nil, "recoup_stream"); err != nil {
		t.Fatalf("streamer binlog dump: %v", err)
	}

	hookNew := r.connect(t, r.nm, "recoup_hook")
	mustExec(t, ctx, hookNew, "STOP SLAVE", "RESET SLAVE ALL")
	if n := countRows(t, hookNew, "SHOW SLAVE STATUS"); n != 0 {
		t.Fatalf("new master still has %d replication connections after RESET SLAVE ALL", n)
	}

	gtid, events := commitOnOld(t, r)
	if v := rowValue(t, r.nm.DB(t), 1); v != "" {
		t.Fatalf("new master already has row 1 (%q): replication was not stopped", v)
	}
	d, s, n := splitGTID(t, gtid)
	mustExec(t, ctx, hookNew,
		"SET SESSION gtid_domain_id = "+d, "SET SESSION server_id = "+s, "SET SESSION gtid_seq_no = "+n,
		"BEGIN", binlogStatement(formatDescription(t, r.old)), binlogStatement(events...), "COMMIT")
	if v := rowValue(t, r.nm.DB(t), 1); v != "replayed" {
		t.Fatalf("after the BINLOG replay the new master has row 1 = %q, want \"replayed\"", v)
	}
	var newPos, ro string
	if err := r.nm.DB(t).QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.read_only").Scan(&newPos, &ro); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(","+newPos+",", ","+gtid+",") || ro != "1" {
		t.Fatalf("new master gtid_binlog_pos %q (want it to hold %s), read_only %q (want 1)", newPos, gtid, ro)
	}

	fenceOld(t, r)

	mustExec(t, ctx, hookNew, "SET GLOBAL read_only = OFF")
	app := r.connect(t, r.nm, "app_client")
	mustExec(t, ctx, app, "INSERT INTO app.t VALUES (2, 'after')")

	// Orchestrator asks the promoted server for the cluster alias: it is
	// still the name recoup.yaml knows the cluster by.
	var alias string
	q := loadOrchestratorConf(t).DetectClusterAliasQuery
	if err := r.nm.DB(t).QueryRowContext(ctx, q).Scan(&alias); err != nil || alias != "shop" {
		t.Fatalf("%s on the new master: %q, %v; want shop (meta.sql, recoup.yaml)", q, alias, err)
	}
}

// commitOnOld commits one row on the old master as the application would
// and returns its GTID and its table map and rows events as stored.
func commitOnOld(t *testing.T, r *rig) (string, [][]byte) {
	t.Helper()
	ctx := t.Context()
	root := r.old.DB(t)
	var file string
	var start int64
	var doDB, ignoreDB sql.NullString
	if err := root.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &start, &doDB, &ignoreDB); err != nil {
		t.Fatalf("SHOW MASTER STATUS: %v", err)
	}
	mustExec(t, ctx, root, "INSERT INTO app.t VALUES (1, 'replayed')")
	data, err := os.ReadFile(filepath.Join(r.old.DataDir, file))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := root.QueryContext(ctx, fmt.Sprintf("SHOW BINLOG EVENTS IN '%s' FROM %d", file, start))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var gtid string
	var events [][]byte
	for rows.Next() {
		var name, typ, info string
		var pos, server, end int64
		if err := rows.Scan(&name, &pos, &typ, &server, &end, &info); err != nil {
			t.Fatal(err)
		}
		switch {
		case typ == "Gtid":
			gtid = strings.TrimPrefix(info, "BEGIN GTID ")
		case typ == "Table_map" || strings.HasPrefix(typ, "Write_rows"):
			events = append(events, data[pos:end])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if gtid == "" || len(events) != 2 {
		t.Fatalf("binlog of the insert: GTID %q, %d table map and rows events", gtid, len(events))
	}
	return gtid, events
}

// fenceOld sets the old master read_only as the hook, kills its
// application connections and checks the application can no longer
// write there.
func fenceOld(t *testing.T, r *rig) {
	t.Helper()
	ctx := t.Context()
	victim, id := r.victim(t)
	hookOld := r.connect(t, r.old, "recoup_hook")
	mustExec(t, ctx, hookOld, "SET GLOBAL read_only = ON")
	ids, err := hookOld.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app_client'")
	if err != nil {
		t.Fatal(err)
	}
	var found []int64
	for ids.Next() {
		var k int64
		if err := ids.Scan(&k); err != nil {
			t.Fatal(err)
		}
		found = append(found, k)
	}
	ids.Close()
	if !containsID(found, id) {
		t.Fatalf("the hook sees application connections %v, not %d", found, id)
	}
	for _, k := range found {
		mustExec(t, ctx, hookOld, fmt.Sprintf("KILL CONNECTION %d", k))
	}
	if err := victim.PingContext(ctx); err == nil {
		t.Fatal("the application connection survived KILL")
	}
	_, err = r.connect(t, r.old, "app_client").ExecContext(ctx, "INSERT INTO app.t VALUES (3, 'fenced')")
	if !code(errReadOnly)(err) {
		t.Fatalf("application write on the fenced old master: %v, want error %d", err, errReadOnly)
	}
}

func containsID(ids []int64, id int64) bool {
	for _, k := range ids {
		if k == id {
			return true
		}
	}
	return false
}

func splitGTID(t *testing.T, g string) (domain, server, seq string) {
	t.Helper()
	p := strings.Split(g, "-")
	if len(p) != 3 {
		t.Fatalf("GTID %q is not domain-server-seq", g)
	}
	return p[0], p[1], p[2]
}

func rowValue(t *testing.T, db *sql.DB, id int) string {
	t.Helper()
	var v string
	err := db.QueryRowContext(t.Context(), "SELECT v FROM app.t WHERE id = ?", id).Scan(&v)
	if err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return v
}

func countRows(t *testing.T, c *sql.Conn, q string) int {
	t.Helper()
	rows, err := c.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}
