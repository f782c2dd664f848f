package applier

import (
	"strings"
	"testing"

	"github.com/recoup-dev/recoup/repl"
)

func mustGTID(t *testing.T, f repl.Flavor, s string) repl.GTID {
	t.Helper()
	g, err := repl.ParseGTID(f, s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestPlanGTID(t *testing.T) {
	const uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	tests := []struct {
		name     string
		flavor   repl.Flavor
		gtid     string
		curIDs   string
		fallback bool
		want     gtidPlan
		wantErr  string
	}{
		{name: "mariadb", flavor: repl.MariaDB, gtid: "0-1-101",
			want: gtidPlan{ids: "SET SESSION gtid_domain_id = 0, SESSION server_id = 1",
				before: "SET SESSION gtid_seq_no = 101", reset: "SET SESSION gtid_seq_no = 0"}},
		{name: "mariadb ids already set", flavor: repl.MariaDB, gtid: "7-4294967295-18446744073709551615",
			curIDs: "SET SESSION gtid_domain_id = 7, SESSION server_id = 4294967295",
			want:   gtidPlan{before: "SET SESSION gtid_seq_no = 18446744073709551615", reset: "SET SESSION gtid_seq_no = 0"}},
		{name: "mariadb fallback takes own server id, server seq", flavor: repl.MariaDB, gtid: "2-1-5", fallback: true,
			want: gtidPlan{ids: "SET SESSION gtid_domain_id = 2, SESSION server_id = 3",
				before: "SET SESSION gtid_seq_no = 0", reset: "SET SESSION gtid_seq_no = 0"}},
		{name: "mysql", flavor: repl.MySQL, gtid: uuid + ":42",
			want: gtidPlan{before: "SET GTID_NEXT = '" + uuid + ":42'", reset: "SET GTID_NEXT = 'AUTOMATIC'"}},
		{name: "mysql upper case uuid and tag are normalised", flavor: repl.MySQL, gtid: strings.ToUpper(uuid) + ":Tag_1:9",
			want: gtidPlan{before: "SET GTID_NEXT = '" + uuid + ":tag_1:9'", reset: "SET GTID_NEXT = 'AUTOMATIC'"}},
		{name: "mysql has no fallback", flavor: repl.MySQL, gtid: uuid + ":1", fallback: true, wantErr: "cannot take a new GTID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planGTID(mustGTID(t, tt.flavor, tt.gtid), tt.curIDs, tt.fallback, 3)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("planGTID = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestMySQLGTIDNextRejectsBadGTIDs(t *testing.T) {
	var u repl.UUID
	bad := []repl.GTID{
		{Flavor: repl.MySQL, UUID: u, Tag: "x'; DROP TABLE t; --", Seq: 1},
		{Flavor: repl.MySQL, UUID: u, Seq: 0},
		repl.MariaDBGTID(0, 1, 2),
	}
	for _, g := range bad {
		if s, err := mysqlGTIDNext(g); err == nil {
			t.Errorf("mysqlGTIDNext(%+v) = %q, want an error", g, s)
		}
	}
}

func TestGTIDOfInfo(t *testing.T) {
	tests := []struct{ info, want string }{
		{"BEGIN GTID 0-1-5", "0-1-5"},
		{"GTID 0-2-8", "0-2-8"},
		{"BEGIN GTID 1-3-9 cid=123", "1-3-9"},
	}
	for _, tt := range tests {
		g, err := gtidOfInfo(tt.info)
		if err != nil || g.String() != tt.want {
			t.Errorf("gtidOfInfo(%q) = %v, %v; want %s", tt.info, g, err, tt.want)
		}
	}
	if _, err := gtidOfInfo("BEGIN"); err == nil {
		t.Error("gtidOfInfo without a GTID: want an error")
	}
}
