package applier

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/recoup-dev/recoup/conflict"
	"github.com/recoup-dev/recoup/repl"
	"github.com/recoup-dev/recoup/streamer"
	"github.com/recoup-dev/recoup/test/sandbox"
)

// typesDDL covers every column type family the applier converts, with
// keys of several types so the SELECT's bound parameters are checked too.
const typesDDL = `CREATE TABLE t.types (
  id INT NOT NULL, k VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
  de DECIMAL(20,6), dz DECIMAL(5,0), fl FLOAT, db DOUBLE,
  bt BIT(12), yr YEAR, da DATE, tm TIME, tm3 TIME(3), dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP NULL, ts2 TIMESTAMP(2) NULL,
  ch CHAR(5), vl VARCHAR(30) CHARACTER SET latin1, tx TEXT, bn BINARY(6), vb VARBINARY(10), bl BLOB,
  en ENUM('a','bb','ccc'), st SET('x','y','z'), js JSON, gm GEOMETRY,
  PRIMARY KEY (id, k))`

var typesRows = []string{
	`(1, 'Ünïcode', -128, 255, -32768, 16777215, -9223372036854775808, 18446744073709551615,
	  -12345678901234.000001, 0, 1.0000001, 0.1, b'101010101010', 1901, '1000-01-01', '-838:59:59', '12:34:56.789',
	  '9999-12-31 23:59:59', '2020-02-29 01:02:03.000004', '1970-01-01 03:00:01', '2038-01-19 03:14:07.99',
	  'ab', _latin1 x'636166e9', 'long text ✓', 'xy', 0x00FF00, 0xDEADBEEF, 'ccc', 'x,z', '{"a": [1, 2.5]}', ST_GeomFromText('POINT(1 2)'))`,
	`(2, 'key', 127, 0, 0, 0, 0, 0, 0.5, -99999, -3.40282e38, 2.2250738585072014e-308, b'0', 0, '0000-00-00', '00:00:00',
	  '-00:00:00.001', '0000-00-00 00:00:00', '2000-01-01 00:00:00.000000', NULL, NULL,
	  '', '', '', '', '', '', 'a', '', 'null', NULL)`,
	`(3, 'K', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -0.0, 1e300, NULL, NULL, NULL, '838:59:59', NULL, NULL, NULL,
	  '2001-02-03 04:05:06', '1999-12-31 23:59:59.01', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
}

// TestFetchExact checks that rows read back from the server (binary
// protocol, binary session charset, UTC) equal, value for value, the
// after-images streamer.DecodeTxn decodes from the record a real streamer
// captured.
func TestFetchExact(t *testing.T) {
	in := sandbox.StartInstance(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	db := in.DB(t)
	capt := startCapture(t, in, "exact")
	mustExec(t, db, "CREATE DATABASE t", typesDDL)
	before, err := in.GTIDBinlogPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "SET time_zone = '+03:00'", "INSERT INTO t.types VALUES "+strings.Join(typesRows, ",\n"))
	recs := txnsAfter(capt.wait(t), before)
	if len(recs) != 1 {
		t.Fatalf("the capture log has %d transactions after %s, want the insert", len(recs), before)
	}
	txn, err := streamer.DecodeTxn(recs[0])
	if err != nil {
		t.Fatalf("decoding the insert: %v", err)
	}
	if len(txn.Changes) != len(typesRows) {
		t.Fatalf("decoded %d rows, inserted %d", len(txn.Changes), len(typesRows))
	}
	sess, err := openSession(ctx, db, repl.MariaDB, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.close()
	st, err := conflict.NewState("")
	if err != nil {
		t.Fatal(err)
	}
	for _, forUpdate := range []bool{false, true} {
		var q querier = sess.conn
		if forUpdate {
			tx, err := sess.conn.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			q = tx
		}
		cur, err := fetchCurrent(ctx, q, repl.MariaDB, st.NeededKeys([]repl.Txn{txn}), forUpdate)
		if err != nil {
			t.Fatalf("fetching (for update %v): %v", forUpdate, err)
		}
		compareRows(t, txn.Changes, cur["t.types"])
	}
	t.Run("binary protocol with interpolateParams", func(t *testing.T) { checkInterpolated(t, in, txn) })
}

// checkInterpolated: with interpolateParams=true a query with arguments
// goes as text and a FLOAT comes back with 6 significant digits (1.0000001
// as "1"); the applier's explicit prepared statements must still read the
// exact values.
func checkInterpolated(t *testing.T, in *sandbox.Instance, txn repl.Txn) {
	cfg, err := mysql.ParseDSN(in.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.InterpolateParams = true
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var text float32
	if err := db.QueryRowContext(t.Context(), "SELECT fl FROM t.types WHERE id = ?", 1).Scan(&text); err != nil || text != 1 {
		t.Fatalf("the text protocol read %v (%v): the test needs a FLOAT whose text rounds", text, err)
	}
	sess, err := openSession(t.Context(), db, repl.MariaDB, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.close()
	st, _ := conflict.NewState("")
	cur, err := fetchCurrent(t.Context(), sess.conn, repl.MariaDB, st.NeededKeys([]repl.Txn{txn}), false)
	if err != nil {
		t.Fatal(err)
	}
	compareRows(t, txn.Changes, cur["t.types"])
}

// compareRows matches fetched rows to the changes' after-images by key.
func compareRows(t *testing.T, changes []repl.RowChange, got []repl.Row) {
	t.Helper()
	if len(got) != len(changes) {
		t.Fatalf("fetched %d rows, want %d", len(got), len(changes))
	}
	byKey := map[conflict.Key]repl.Row{}
	for _, r := range got {
		byKey[conflict.KeyOf(changes[0].Table, r)] = r
	}
	for _, c := range changes {
		r, ok := byKey[conflict.KeyOf(c.Table, c.After)]
		if !ok {
			t.Errorf("row %v not fetched", c.After[:2])
			continue
		}
		for i, want := range c.After {
			if !r[i].Equal(want) {
				t.Errorf("row %v column %s: fetched %s %q (charset %q), binlog has %s %q (charset %q)", c.After[:2],
					c.Table.Columns[i].Name, r[i].Kind(), r[i].String(), r[i].Charset(), want.Kind(), want.String(), want.Charset())
			}
		}
	}
}
