package report

import (
	"math"
	"time"

	"github.com/recoup-dev/recoup/repl"
)

// The fixture: a table with every type family, and a report with one
// conflict of each kind a DBA meets.

const ordersDDL = "CREATE TABLE shop.orders (" +
	"id INT NOT NULL PRIMARY KEY, qty INT UNSIGNED NOT NULL, price DECIMAL(12,4) NOT NULL, " +
	"ratio FLOAT NOT NULL, score DOUBLE NOT NULL, name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, " +
	"legacy VARCHAR(32) CHARACTER SET latin1 COLLATE latin1_swedish_ci NULL, blobby VARBINARY(16) NULL, flags BIT(5) NULL, " +
	"yr YEAR NULL, d DATE NULL, t TIME(3) NULL, dt DATETIME(6) NULL, ts TIMESTAMP(6) NULL, " +
	"status ENUM('new','paid','shipped') NULL, tags SET('a','b','c') NULL, " +
	"doc LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL CHECK (json_valid(doc)), pt POINT NULL, " +
	"name_len INT AS (CHAR_LENGTH(name)) VIRTUAL)"

func ordersTable() *repl.Table {
	s := func(name, typ, cs, coll string, length int) repl.Column {
		return repl.Column{Name: name, Type: typ, Length: length, Charset: cs, Collation: coll, Nullable: true}
	}
	return &repl.Table{Schema: "shop", Name: "orders", PrimaryKey: []int{0}, Columns: []repl.Column{
		{Name: "id", Type: "int"},
		{Name: "qty", Type: "int", Unsigned: true},
		{Name: "price", Type: "decimal", Length: 12, Decimals: 4},
		{Name: "ratio", Type: "float"},
		{Name: "score", Type: "double"},
		{Name: "name", Type: "varchar", Length: 64, Charset: "utf8mb4", Collation: "utf8mb4_general_ci"},
		s("legacy", "varchar", "latin1", "latin1_swedish_ci", 32),
		s("blobby", "varbinary", "binary", "binary", 16),
		{Name: "flags", Type: "bit", Length: 5, Nullable: true},
		{Name: "yr", Type: "year", Nullable: true},
		{Name: "d", Type: "date", Nullable: true},
		{Name: "t", Type: "time", Decimals: 3, Nullable: true},
		{Name: "dt", Type: "datetime", Decimals: 6, Nullable: true},
		{Name: "ts", Type: "timestamp", Decimals: 6, Nullable: true},
		{Name: "status", Type: "enum", Members: []string{"new", "paid", "shipped"}, Nullable: true},
		{Name: "tags", Type: "set", Members: []string{"a", "b", "c"}, Nullable: true},
		s("doc", "longtext", "utf8mb4", "utf8mb4_bin", 0),
		{Name: "pt", Type: "point", Nullable: true},
		{Name: "name_len", Type: "int", Nullable: true, Generated: "virtual"},
	}}
}

func columnNames(t *repl.Table) []string {
	n := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		n[i] = c.Name
	}
	return n
}

// point is a POINT in the server's internal format: SRID, then WKB.
func point(x, y float64) repl.Value {
	b := []byte{0, 0, 0, 0, 1, 1, 0, 0, 0}
	for _, f := range []float64{x, y} {
		u := math.Float64bits(f)
		for i := 0; i < 8; i++ {
			b = append(b, byte(u>>(8*i)))
		}
	}
	return repl.TextValue(repl.KindGeometry, b)
}

func str(s string) repl.Value { return repl.StringValue([]byte(s), "utf8mb4") }

// orderRow is a full row of shop.orders; name drives name_len.
func orderRow(id int64, name string, price string, score float64) repl.Row {
	return repl.Row{
		repl.IntValue(id), repl.UintValue(4294967295), repl.TextValue(repl.KindDecimal, []byte(price)),
		repl.Float32Value(0.1), repl.Float64Value(score), str(name),
		repl.StringValue([]byte{'c', 'a', 'f', 0xE9}, "latin1"), repl.BytesValue([]byte{0, 1, 0xff, '\''}),
		repl.BitValue(0b10101), repl.YearValue(2024), repl.TextValue(repl.KindDate, []byte("2024-02-29")),
		repl.TextValue(repl.KindTime, []byte("-123:45:06.789")),
		repl.TextValue(repl.KindDateTime, []byte("2024-02-29 23:59:59.999999")),
		repl.TextValue(repl.KindTimestamp, []byte("2024-03-31 01:30:00.000001")),
		repl.EnumValue(2, "paid"), repl.SetValue(5, "a,c"), str(`{"k": [1, 2.50, "é"]}`), point(1, 2),
		repl.IntValue(int64(len([]rune(name)))),
	}
}

func img(t *repl.Table, r repl.Row) *Image { return &Image{Columns: columnNames(t), Values: r} }

const xss = `<script>alert(1)</script>`

// fixtureReport is a report as a source-wins-less run on a conflicting
// new master would write it.
func fixtureReport() *Report {
	t := ordersTable()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	before := orderRow(1, "café", "10.5000", math.Nextafter(0.3, 1))
	after := orderRow(1, "café "+xss+" 'q' \"dq\" \\ \n2nd line", "-12345678.1234", 1e-300)
	current := orderRow(1, "café", "99.0000", math.Nextafter(0.3, 1))
	current[9] = repl.Null()
	r := &Report{
		Schema: SchemaVersion, ID: "0a1b2c3d", GeneratedAt: at, Cluster: "shop/eu " + xss, Flavor: "mariadb", Policy: "report",
		Recovery: Recovery{UID: "rec-42", OldMaster: "10.0.0.1:3306", NewMaster: "10.0.0.2:3306", StartedAt: at.Add(-3 * time.Second),
			FinishedAt: at, Steps: []Step{{Step: "fence", MS: 12.5, OK: true}, {Step: "compensate", MS: 840, OK: true, Detail: "2 conflicts"}}},
		Capture:    Capture{State: "complete", Master: "10.0.0.1:3306", LastGTID: "0-1-104", Detail: "the streamer recorded the master's failure"},
		GTIDs:      GTIDs{Executed: "0-2-90,1-2-7", Divergence: "0-1-100", Missing: "0-1-101-104", WrittenAfter: 7, StartOffset: 812},
		Collisions: []Collision{{NewMaster: "0-2-101", Captured: "0-1-101"}}, NewGTIDs: []NewGTID{{GTID: "0-1-102", NewGTID: "0-2-108"}},
		Counts:  Counts{Missing: 4, Applied: 2, Conflicts: 2, NewGTIDs: 1, Rows: 6},
		Timings: Timings{FindMS: 3.2, FetchMS: 1.1, DecideMS: 0.2, ApplyMS: 20.9, TotalMS: 25.4},
		Tables:  []*repl.Table{t},
	}
	r.Conflicts = []Conflict{
		{N: 1, GTID: "0-1-103", Offset: 815, CommitTime: at.Add(-time.Minute), Verdict: "conflict", Resolvable: true,
			Reason: "row 0 (update shop.orders id=1): the row differs from the before-image", Tables: []string{"shop.orders"},
			Decision: "skipped: left for review; the new master keeps its rows",
			Rows: []Row{{Index: 0, Table: "shop.orders", Change: "update", Key: "id=1", Verdict: "conflict",
				Reason: "the row differs from the before-image", Before: img(t, before), After: img(t, after),
				Current: img(t, current), CurrentState: CurrentFound, DiffColumns: []string{"price", "yr"}}}},
		{N: 2, GTID: "0-1-104", Offset: 816, CommitTime: at.Add(-50 * time.Second), Verdict: "conflict", Resolvable: true,
			Reason: "depends on GTID 0-1-103, which was skipped", DependsOn: "0-1-103", Tables: []string{"shop.orders"},
			Decision: "skipped: left for review; the new master keeps its rows",
			Rows: []Row{
				{Index: 0, Table: "shop.orders", Change: "update", Key: "id=1", Verdict: "conflict",
					Reason: "depends on GTID 0-1-103, which was skipped", Before: img(t, after),
					After: img(t, orderRow(1, "after two", "1.0000", 2)), CurrentState: CurrentNotChecked},
				{Index: 1, Table: "shop.orders", Change: "insert", Key: "id=7\nDROP TABLE x", Verdict: "apply",
					After: img(t, orderRow(7, "seven", "7.0000", 7)), CurrentState: CurrentAbsent},
				{Index: 2, Table: "shop.orders", Change: "delete", Key: "id=8", Verdict: "apply",
					Before: img(t, orderRow(8, "eight", "8.0000", 8)), CurrentState: CurrentBefore},
			}},
	}
	r.Transactions = []TxnSummary{
		{GTID: "0-1-101", Offset: 812, CommitTime: at.Add(-3 * time.Minute), Verdict: "apply", Applied: true, Rows: 1},
		{GTID: "0-1-102", NewGTID: "0-2-108", Offset: 813, CommitTime: at.Add(-2 * time.Minute), Verdict: "apply", Applied: true, Rows: 1},
		{GTID: "0-1-103", Offset: 815, CommitTime: at.Add(-time.Minute), Verdict: "conflict", Rows: 1, Conflict: 1},
		{GTID: "0-1-104", Offset: 816, CommitTime: at.Add(-50 * time.Second), Verdict: "conflict", Rows: 3, Conflict: 2},
	}
	return r
}
