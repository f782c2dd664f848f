package applier

import (
	"bytes"
	"encoding/binary"
	"testing"

	"database/sql"
)

// matrixSchema has every column type family the applier reads back for
// conflict checks and replays: integers of every width and sign, BIT,
// YEAR, ENUM, SET, DECIMAL, FLOAT, DOUBLE, the temporal types with every
// precision class, character strings in several character sets and
// collations (with a unique key compared through CONVERT ... COLLATE),
// binary strings, BLOBs, JSON, geometry, generated columns, a table
// without a key, and a table for one transaction of 100,000 rows.
var matrixSchema = []string{
	"CREATE DATABASE mx",
	`CREATE TABLE mx.num (id INT PRIMARY KEY, y YEAR, t_s TINYINT, t_u TINYINT UNSIGNED, b1 BIT(1),
	   s_s SMALLINT, s_u SMALLINT UNSIGNED, m_s MEDIUMINT, m_u MEDIUMINT UNSIGNED, e ENUM('x','y','z'),
	   i_s INT, i_u INT UNSIGNED, b64 BIT(64), g_s BIGINT, g_u BIGINT UNSIGNED, b9 BIT(9),
	   d52 DECIMAL(5,2), d65 DECIMAL(65,30), d1 DECIMAL(1,1), f FLOAT, fu FLOAT UNSIGNED, dbl DOUBLE,
	   UNIQUE KEY ud (d65))`,
	`CREATE TABLE mx.txt (id INT PRIMARY KEY, c_utf CHAR(4), v_utf VARCHAR(20), t_utf TEXT,
	   c_lat CHAR(4) CHARACTER SET latin1, v_lat VARCHAR(20) CHARACTER SET latin1, bin BINARY(4), vbin VARBINARY(20),
	   blb BLOB, e ENUM('a','é','🎉'), s SET('a','b','c','d'), j JSON, geo POINT, g2 GEOMETRY,
	   v_ucs VARCHAR(5) CHARACTER SET ucs2, v_uca VARCHAR(10) COLLATE utf8mb4_uca1400_ai_ci, lb LONGBLOB,
	   UNIQUE KEY uv (v_utf)) DEFAULT CHARSET=utf8mb4`,
	`CREATE TABLE mx.tm (id INT PRIMARY KEY, d DATE, t0 TIME, t3 TIME(3), t6 TIME(6), dt0 DATETIME,
	   dt3 DATETIME(3), dt6 DATETIME(6), ts0 TIMESTAMP NULL, ts3 TIMESTAMP(3) NULL, ts6 TIMESTAMP(6) NULL)`,
	`CREATE TABLE mx.gen (id INT PRIMARY KEY, a INT, v INT AS (a * 2) VIRTUAL,
	   s VARCHAR(20) AS (CONCAT('x', a)) STORED, z INT)`,
	"CREATE TABLE mx.nokey (a INT, b VARCHAR(10), c DOUBLE)",
	"CREATE TABLE mx.big (id INT PRIMARY KEY, v INT, pad VARCHAR(20))",
	`INSERT INTO mx.num VALUES
	   (1, 1901, -128, 255, b'1', -32768, 65535, -8388608, 16777215, 'x', -2147483648, 4294967295,
	    b'1111111111111111111111111111111111111111111111111111111111111111', -9223372036854775808,
	    18446744073709551615, b'100000001', -999.99, -12345678901234567890123456789012345.123456789012345678901234567890,
	    0.9, -3.4028234e38, 3.4e38, -1.7976931348623157e308),
	   (2, 2155, 127, 0, b'0', 32767, 0, 8388607, 0, 'z', 2147483647, 0, b'0', 9223372036854775807, 0, b'0',
	    999.99, 0.000000000000000000000000000001, -0.9, 1.17549435e-38, 0, 2.2250738585072014e-308),
	   (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	    NULL, NULL, NULL, NULL, NULL, NULL)`,
	`INSERT INTO mx.txt VALUES
	   (1, 'ü✓', 'Zoë 😀', REPEAT('é', 300), 'äö', 'Grüße', 0x00ff0001, 0x00, 0xdeadbeef, 'é', 'a,d',
	    '{"k": [1, 2.5, null, "ü"]}', ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0)'),
	    'ab€', 'Straße', REPEAT(0x00ff, 5000)),
	   (2, 'a ', 'trailing  ', '', '', '', 0x61000000, '', '', '🎉', '', '[]', ST_GeomFromText('POINT(-1.5 0)'),
	    NULL, '', 'x', ''),
	   (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	`INSERT INTO mx.tm VALUES
	   (1, '1000-01-01', '-838:59:59', '-00:00:00.001', '838:59:58.999999', '1000-01-01 00:00:00',
	    '9999-12-31 23:59:59.999', '2024-02-29 12:34:56.000001', '1970-01-01 00:00:01', '2038-01-19 03:14:07.999',
	    '2000-01-01 00:00:00.5'),
	   (2, '9999-12-31', '00:00:00', '12:00:00.5', '-00:00:00.000001', '2020-01-01 00:00:00', NULL, NULL,
	    NULL, NULL, '2010-10-10 10:10:10.123456'),
	   (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	"INSERT INTO mx.gen (id, a, z) VALUES (1, 5, NULL), (2, NULL, 7), (3, 0, 0)",
	"INSERT INTO mx.nokey VALUES (1, 'a', -0e0), (1, 'a', -0e0), (2, NULL, 2.5), (3, 'c', NULL)",
	"INSERT INTO mx.big VALUES (0, 0, 'before')",
}

// bigRows is the size of the large lost transaction.
const bigRows = 100000

// matrixLost are the lost transactions: updates and deletes of rows of
// every type (their conflict checks compare the new master's rows with
// the captured before-images, exactly), inserts of new extreme values,
// and one transaction of bigRows rows.
var matrixLost = [][]string{
	{`UPDATE mx.num SET t_u = 255 - t_u, g_u = 18446744073709551615 - g_u, b64 = b64 >> 1, d65 = d65 + 1, f = f / 2, fu = 0.1,
	   dbl = dbl / 3, e = 'y', y = 2000 WHERE id IN (1, 2)`,
		"UPDATE mx.num SET d1 = 0.1, b9 = b'1' WHERE id = 3"},
	{"UPDATE mx.txt SET c_utf = 'ñ', v_utf = CONCAT(v_utf, '!'), vbin = 0xff00, s = 'b,c', e = 'a', j = '{}', " +
		"geo = ST_GeomFromText('POINT(3 4)'), v_ucs = 'ü', v_uca = 'STRASSE', lb = REPEAT(0xab, 70000) WHERE id IN (1, 2)",
		"INSERT INTO mx.txt (id, v_utf, c_lat, bin) VALUES (4, '', 'ÿ', 0x00)"},
	{"UPDATE mx.tm SET t3 = '-00:00:00.002', ts6 = '2001-01-01 05:30:00.5', dt6 = dt6 + INTERVAL 1 MICROSECOND WHERE id IN (1, 2)",
		"INSERT INTO mx.tm VALUES (4, '2000-02-29', '-00:00:01', '00:00:00.999', '-838:59:58.000001', '2000-01-01 00:00:00'," +
			" '2000-01-01 00:00:00.001', '2000-01-01 00:00:00.000001', '2038-01-19 03:14:07', '1970-01-01 00:00:01.001'," +
			" '1999-12-31 23:59:59.999999')"},
	{"UPDATE mx.gen SET a = a + 1", "DELETE FROM mx.gen WHERE id = 2", "INSERT INTO mx.gen (id, a, z) VALUES (4, -1, 1)"},
	{"DELETE FROM mx.nokey WHERE a = 1 LIMIT 1", "UPDATE mx.nokey SET b = 'z' WHERE a = 2", "DELETE FROM mx.nokey WHERE a = 3"},
	{"DELETE FROM mx.num WHERE id = 3", "DELETE FROM mx.txt WHERE id = 3", "DELETE FROM mx.tm WHERE id = 3",
		"INSERT INTO mx.num (id, g_s, g_u, d65, f, dbl) VALUES (4, -1, 1, -0.000000000000000000000000000001, -0, -0)"},
	{"INSERT INTO mx.big SELECT seq, seq * 7, REPEAT('p', seq % 20) FROM mx.seq_1_to_100000"},
}

// TestCompensateTypeMatrixAndLargeTxn: every type family, and one
// transaction of 100,000 rows whose BINLOG statement exceeds the new
// master's max_allowed_packet, written on the old master while its
// replica is cut off, are compensated with no conflict and end
// byte-identical to the old master's rows (CHECKSUM TABLE, and every row
// in hex) when the old master is restarted alone.
func TestCompensateTypeMatrixAndLargeTxn(t *testing.T) {
	s := newScenario(t, 1, matrixSchema, matrixLost)
	ctx := t.Context()
	const packet = 1 << 20
	mustExec(t, s.nm.DB(t), "SET GLOBAL max_allowed_packet = 1048576")
	big := s.lost[len(s.lost)-1]
	stmts, err := replayStatements(big)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 1 || len(stmts[0].SQL()) <= packet {
		t.Fatalf("the large transaction is %d BINLOG statement(s) of %d bytes: want one above %d, to exercise the split",
			len(stmts), len(stmts[0].SQL()), packet)
	}
	s.fence(t)
	res := s.compensate(t, ctx, Options{})
	if res.Counts.Applied != len(matrixLost) || res.Counts.Missing != len(matrixLost) {
		for _, tr := range res.Txns {
			t.Logf("%s: %s %s", tr.GTID, tr.Verdict, tr.Reason)
		}
		t.Fatalf("counts = %+v, want all %d applied", res.Counts, len(matrixLost))
	}
	got := binlogGTIDs(t, s.nm)
	for _, r := range s.lost {
		if !got[r.GTID] {
			t.Errorf("lost transaction %s is not in the new master's binlog under its GTID", r.GTID)
		}
	}
	if err := s.old.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range []string{"num", "txt", "tm", "gen", "nokey"} {
		sameTable(t, s.old, s.nm, "mx."+tbl)
	}
	sameChecksum(t, s, "mx.big")
	checkRows(t, s.nm, "SELECT COUNT(*) FROM mx.big", "100001")
}

// sameChecksum compares CHECKSUM TABLE on the old and new masters.
func sameChecksum(t *testing.T, s *scenario, table string) {
	t.Helper()
	var sums [2]string
	for i, db := range []*sql.DB{s.old.DB(t), s.nm.DB(t)} {
		var name string
		if err := db.QueryRowContext(t.Context(), "CHECKSUM TABLE "+table).Scan(&name, &sums[i]); err != nil {
			t.Fatal(err)
		}
	}
	if sums[0] != sums[1] {
		t.Errorf("CHECKSUM TABLE %s: old master %s, new master %s", table, sums[0], sums[1])
	}
}

// TestSplitForPacket checks the split at rows-event boundaries: every
// part fits, repeats the table maps, and the parts' rows events are the
// original ones in order.
func TestSplitForPacket(t *testing.T) {
	ev := func(typ byte, n int, fill byte) []byte {
		b := make([]byte, n)
		b[4] = typ
		binary.LittleEndian.PutUint32(b[9:13], uint32(n))
		for i := eventHeaderBytes; i < n; i++ {
			b[i] = fill
		}
		return b
	}
	tm := ev(evTableMap, 40, 't')
	var st []byte
	var rows [][]byte
	st = append(st, tm...)
	for i := range 10 {
		r := ev(30, 300, byte('a'+i))
		rows = append(rows, r)
		st = append(st, r...)
	}
	const packet = binlogOverhead + 1000 // 750 raw bytes: the map and two rows events per part
	parts, err := splitForPacket(st, packet)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 5 {
		t.Fatalf("%d parts, want 5", len(parts))
	}
	var got []byte
	for i, p := range parts {
		if len(p.SQL()) > packet-binlogOverhead+len("BINLOG ''") {
			t.Errorf("part %d is %d bytes of SQL", i, len(p.SQL()))
		}
		if !bytes.HasPrefix(p, tm) {
			t.Errorf("part %d does not start with the table map", i)
		}
		got = append(got, p[len(tm):]...)
	}
	if want := bytes.Join(rows, nil); !bytes.Equal(got, want) {
		t.Error("the parts' rows events are not the original ones in order")
	}
	if one, err := splitForPacket(st, 1<<20); err != nil || len(one) != 1 || !bytes.Equal(one[0], st) {
		t.Errorf("a statement that fits: %d parts, %v", len(one), err)
	}
	if _, err := splitForPacket(append(append([]byte{}, tm...), ev(30, 2000, 'x')...), packet); err == nil {
		t.Error("an event larger than the packet: want an error")
	}
}
