package capturetest

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/recoup-dev/recoup/test/sandbox"
)

// matrixTables create every type recoup must carry exactly, in schema mx.
// Column order mixes types on purpose: per-column metadata (signedness,
// charsets, members) is counted by column kind, so a miscounted column
// shifts the flags of the ones after it.
func matrixTables() []string {
	var bits []string
	for n := 1; n <= 64; n++ {
		bits = append(bits, fmt.Sprintf("b%d BIT(%d)", n, n))
	}
	return []string{
		`CREATE TABLE num (id INT PRIMARY KEY, y YEAR, t_s TINYINT, t_u TINYINT UNSIGNED, b1 BIT(1),
			s_s SMALLINT, s_u SMALLINT UNSIGNED, m_s MEDIUMINT, m_u MEDIUMINT UNSIGNED, e ENUM('x','y','z'),
			i_s INT, i_u INT UNSIGNED, g_s BIGINT, g_u BIGINT UNSIGNED, d65 DECIMAL(65,30), d52u DECIMAL(5,2) UNSIGNED,
			d10 DECIMAL(10,0), d1 DECIMAL(1,1), f FLOAT, fu FLOAT UNSIGNED, dbl DOUBLE, y2 YEAR)`,
		"CREATE TABLE bits (id INT PRIMARY KEY, " + strings.Join(bits, ", ") + ")",
		`CREATE TABLE tm (id INT PRIMARY KEY, d DATE, t0 TIME, t1 TIME(1), t2 TIME(2), t3 TIME(3), t4 TIME(4),
			t5 TIME(5), t6 TIME(6), dt0 DATETIME, dt1 DATETIME(1), dt2 DATETIME(2), dt3 DATETIME(3),
			dt4 DATETIME(4), dt5 DATETIME(5), dt6 DATETIME(6), ts0 TIMESTAMP NULL, ts1 TIMESTAMP(1) NULL,
			ts2 TIMESTAMP(2) NULL, ts3 TIMESTAMP(3) NULL, ts4 TIMESTAMP(4) NULL, ts5 TIMESTAMP(5) NULL,
			ts6 TIMESTAMP(6) NULL)`,
		`CREATE TABLE txt (id INT PRIMARY KEY, c_utf CHAR(4), v_utf VARCHAR(20), t_utf TEXT, geo GEOMETRY,
			c_lat CHAR(4) CHARACTER SET latin1, v_lat VARCHAR(20) CHARACTER SET latin1, t_lat TEXT CHARACTER SET latin1,
			c_b CHAR(4) CHARACTER SET binary, v_b VARCHAR(20) CHARACTER SET binary, t_b TEXT CHARACTER SET binary,
			bin BINARY(4), vbin VARBINARY(20), blb BLOB, lblb LONGBLOB, e ENUM('a','é','🎉'), s SET('a','b','c','d'),
			e_lat ENUM('é','x') CHARACTER SET latin1, j JSON, pt POINT, c_long CHAR(255), v_long VARCHAR(300),
			mt MEDIUMTEXT COLLATE utf8mb4_bin) DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE gen (id INT PRIMARY KEY, a INT, v INT AS (a * 2) VIRTUAL, s VARCHAR(20) AS (CONCAT('x', a)) STORED,
			vb BLOB AS (REPEAT('b', a)) VIRTUAL, z INT)`,
		`CREATE TABLE nokey (a INT, b VARCHAR(10), c DOUBLE)`,
	}
}

// step is one transaction of a workload.
type step struct {
	ddl   bool // a single DDL statement, run outside BEGIN/COMMIT
	stmts []stmt
}

type stmt struct {
	q    string
	args []any
}

func sqls(qs ...string) []stmt {
	out := make([]stmt, len(qs))
	for i, q := range qs {
		out[i] = stmt{q: q}
	}
	return out
}

// matrixSteps are the row transactions; the session runs with sql_mode=”
// (zero dates, invalid ENUM values) and time_zone='+05:30' (TIMESTAMPs must
// come out in UTC).
func matrixSteps() []step {
	floats := []any{math.Copysign(0, -1), math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64,
		float32(math.SmallestNonzeroFloat32), float32(math.MaxFloat32), 0.1}
	return []step{
		{stmts: sqls(numRows, bitRows(), txtRows)},
		{stmts: sqls(tmRows(), `INSERT INTO gen (id, a, z) VALUES (1, 5, NULL), (2, NULL, 7), (3, 0, 0)`,
			`INSERT INTO nokey VALUES (1, 'a', -0e0), (2, NULL, 2.5), (3, 'c', NULL)`)},
		{stmts: []stmt{{q: `INSERT INTO nokey VALUES (4, 'neg0', ?), (5, 'min', ?), (6, 'max', ?), (7, '-max', ?),
			(8, 'f32min', ?), (9, 'f32max', ?), (10, 'tenth', ?)`, args: floats}}},
		{stmts: sqls(`UPDATE num SET t_u = t_u + 0, g_u = 18446744073709551614, f = 1.5, e = 'z' WHERE id IN (1, 3)`,
			`UPDATE bits SET b64 = b'1000000000000000000000000000000000000000000000000000000000000001', b1 = 0 WHERE id = 2`,
			`UPDATE txt SET c_lat = 'ü', s = 'd', bin = 0x01, j = '{"k": null}' WHERE id = 2`,
			`UPDATE tm SET t3 = '-00:00:00.001', ts6 = '2001-01-01 05:30:00.5', d = '0000-00-00' WHERE id = 4`,
			`UPDATE gen SET a = a + 1`, `UPDATE nokey SET b = 'z' WHERE a = 2`)},
		{stmts: sqls(`DELETE FROM num WHERE id = 2`, `DELETE FROM bits WHERE id = 3`, `DELETE FROM txt WHERE id = 1`,
			`DELETE FROM tm WHERE id = 3`, `DELETE FROM gen WHERE id = 2`, `DELETE FROM nokey WHERE a = 3`)},
		{stmts: sqls(`INSERT INTO num (id, g_u, d65, f) VALUES (10, 18446744073709551615, -1.5, 0.25)`,
			`UPDATE txt SET v_utf = REPEAT('😀', 20), t_utf = REPEAT('é', 3000), lblb = REPEAT(0x00ff, 40000) WHERE id = 3`)},
	}
}

// numRows: integer, decimal, float and year extremes and NULLs.
const numRows = `INSERT INTO num VALUES
	(1, 0, -128, 0, 0, -32768, 0, -8388608, 0, 'x', -2147483648, 0, -9223372036854775808, 0,
	 '-99999999999999999999999999999999999.999999999999999999999999999999', 0, -9999999999, -0.9,
	 -3.4028234663852886e38, 0, -1.7976931348623157e308, 1901),
	(2, 2155, 127, 255, 1, 32767, 65535, 8388607, 16777215, 'z', 2147483647, 4294967295, 9223372036854775807,
	 18446744073709551615, '99999999999999999999999999999999999.999999999999999999999999999999', 999.99,
	 9999999999, 0.9, 3.4028234663852886e38, 3.4028234663852886e38, 1.7976931348623157e308, 0),
	(3, 1901, 0, 0, 0, 0, 0, 0, 0, '', 0, 0, 0, 0, 0, 0, 0, 0, -0e0, 0, -0e0, 2000),
	(4, 1999, -1, 1, 1, -1, 1, -1, 1, 'y', -1, 1, -1, 1, '0.000000000000000000000000000001', 1.5, 1, 0.1,
	 1.401298464324817e-45, 1e-38, 4.9e-324, 69),
	(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL)`

// bitRows fills BIT(1) to BIT(64) with all ones, zero, an alternating
// pattern and NULL.
func bitRows() string {
	var ones, zero, alt, null []string
	for n := 1; n <= 64; n++ {
		ones = append(ones, fmt.Sprintf("b'%s'", strings.Repeat("1", n)))
		zero = append(zero, "b'0'")
		alt = append(alt, fmt.Sprintf("b'%s'", strings.Repeat("10", 32)[64-n:]))
		null = append(null, "NULL")
	}
	return fmt.Sprintf("INSERT INTO bits VALUES (1, %s), (2, %s), (3, %s), (4, %s)",
		strings.Join(ones, ", "), strings.Join(zero, ", "), strings.Join(alt, ", "), strings.Join(null, ", "))
}

// tmRows gives every fractional precision of TIME, DATETIME and TIMESTAMP
// the same literal: zero dates, TIME's limits (negative, over 24 hours),
// negative fractions, dates with zero parts, TIMESTAMP's limits written
// in +05:30.
func tmRows() string {
	rows := [][4]string{
		{"'0000-00-00'", "'-838:59:59'", "'0000-00-00 00:00:00'", "'0000-00-00 00:00:00'"},
		{"'1000-01-01'", "'-00:00:00.5'", "'1000-01-01 00:00:00.000001'", "'1970-01-01 05:30:01'"},
		{"'9999-12-31'", "'838:59:59.999999'", "'9999-12-31 23:59:59.999999'", "'2038-01-19 08:44:07.999999'"},
		{"'2024-02-29'", "'100:00:00.123456'", "'2020-01-01 00:00:00'", "'2020-01-01 00:00:00.5'"},
		{"'2020-00-15'", "'-01:02:03.000001'", "'2020-00-00 01:02:03.5'", "'2000-06-15 12:00:00.123456'"},
		{"NULL", "NULL", "NULL", "NULL"},
	}
	var vals []string
	for i, r := range rows {
		v := []string{fmt.Sprint(i + 1), r[0]}
		for _, lit := range r[1:] {
			for range 7 {
				v = append(v, lit)
			}
		}
		vals = append(vals, "("+strings.Join(v, ", ")+")")
	}
	return "INSERT INTO tm VALUES " + strings.Join(vals, ", ")
}

// txtRows: strings in utf8mb4 (emoji), latin1 and the binary charset with
// trailing spaces and NULs, empty strings, an invalid ENUM value, SETs,
// JSON, geometries and NULLs.
const txtRows = `INSERT INTO txt VALUES
	(1, '😀ab', 'ab  ', '🎉 text', ST_GeomFromText('LINESTRING(0 0,1 1)', 4326), 'é', 'é  ', 'ÿé', 'ab', 0x00ff00,
	 0x0001, 'a', 0x00ff00, 0x000102fffe, REPEAT(0x00ff, 5000), '🎉', 'a,d', 'é', '{"a": [1, 2.50, "é"]}',
	 ST_GeomFromText('POINT(1.5 -2)'), REPEAT('é', 255), REPEAT('x', 300), REPEAT('😀', 1000)),
	(2, '', '', '', NULL, '', '', '', '', '', '', '', '', '', '', 'a', '', 'x', '[]', NULL, '', '', ''),
	(3, 'ab  ', ' a ', ' ', ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), 'a ', ' ', ' ', 0x6100, 0x00, 0x00,
	 0x61000000, 0x00, 0x00, 0x00, 'nope', 'b,c,a', 'x', 'null', ST_GeomFromText('POINT(0 0)'), 'x', 'y', ' '),
	(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL)`

// TestTypeMatrix writes every type on a real MariaDB master while one
// streamer captures it into a local store and another into a Kafka
// store; both logs are read back (ReadFrom, Dedupe, DecodeTxn) and every
// decoded value is compared with the server's own SELECT before and after
// its transaction.
func TestTypeMatrix(t *testing.T) {
	inst := sandbox.StartInstance(t, nil)
	db := utcDB(t, inst, "")
	kinds := bothStores()
	var caps []*captured
	for i, k := range kinds {
		caps = append(caps, startCapture(t, k, inst, uint32(i)))
	}
	mustExec(t, db, "CREATE DATABASE mx DEFAULT CHARACTER SET utf8mb4")
	w := newWriter(t, db, "mx", "SET SESSION sql_mode = '', time_zone = '+05:30'")
	for _, q := range matrixTables() {
		w.run(step{ddl: true, stmts: sqls(q)})
	}
	for _, st := range matrixSteps() {
		w.run(st)
	}
	queries := binlogQueries(t, inst.DB(t))
	for _, c := range caps {
		t.Run(c.kind, func(t *testing.T) {
			txns := c.finish(t, inst, 30*time.Second)
			w.check(t, c.kind, txns, queries)
		})
	}
}
