package route

import (
	"database/sql"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func nullRow(vals ...string) []sql.NullString {
	row := make([]sql.NullString, len(vals))
	for i, v := range vals {
		row[i] = sql.NullString{String: v, Valid: v != "NULL"}
	}
	return row
}

var dbpCols = []string{"backend_ndx", "address", "hostname", "state", "type", "weight", "tag", "threads_running"}

func TestParseDBProxyBackends(t *testing.T) {
	got, err := parseDBProxyBackends(dbpCols, [][]sql.NullString{
		nullRow("1", "10.0.0.1:3306", "db1", "up", "rw", "0", "NULL", "3"),
		nullRow("2", "10.0.0.2:3306", "", "OFFLINE", "ro", "10", "tag_mt", "0"),
		nullRow("3", "db3.example:3306", "", "unknown", "ro", "1", "NULL", "0"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []dbBackend{
		{Ndx: 1, Raw: "10.0.0.1:3306", Addr: netip.MustParseAddrPort("10.0.0.1:3306"), State: "up", Type: "rw"},
		{Ndx: 2, Raw: "10.0.0.2:3306", Addr: netip.MustParseAddrPort("10.0.0.2:3306"), State: "offline", Type: "ro", Weight: 10, Tag: "tag_mt"},
		{Ndx: 3, Raw: "db3.example:3306", State: "unknown", Type: "ro", Weight: 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("parsed\n  %+v\nwant\n  %+v", got, want)
	}
	if b := got[1].backend(); b.Enabled || b.Up || b.Status != "offline" {
		t.Errorf("offline backend = %+v", b)
	}
	if _, err := parseDBProxyBackends(dbpCols[1:], nil); err == nil {
		t.Error("missing backend_ndx column accepted")
	}
	if _, err := parseDBProxyBackends(dbpCols, [][]sql.NullString{nullRow("x", "a", "", "up", "rw", "0", "NULL", "0")}); err == nil {
		t.Error("non-numeric backend_ndx accepted")
	}
}

func FuzzParseDBProxyBackends(f *testing.F) {
	f.Fuzz(func(t *testing.T, ndx, addr, state, typ, weight, tag string) {
		got, err := parseDBProxyBackends(dbpCols, [][]sql.NullString{nullRow(ndx, addr, "", state, typ, weight, tag, "0")})
		if err != nil {
			return
		}
		if len(got) != 1 || got[0].Ndx < 1 {
			t.Fatalf("parsed %+v", got)
		}
		if got[0].Addr.IsValid() && got[0].Addr.Addr().Is4In6() {
			t.Fatalf("mapped address kept: %v", got[0].Addr)
		}
		_ = got[0].backend()
	})
}

func TestDBProxyCommands(t *testing.T) {
	ap := netip.MustParseAddrPort("10.0.0.7:3307")
	tests := []struct {
		got  func() (string, error)
		want string
	}{
		{func() (string, error) { return dbpAddMaster(ap) }, "ADD MASTER 10.0.0.7:3307"},
		{func() (string, error) { return dbpAddSlave(ap, "", 0) }, "ADD SLAVE 10.0.0.7:3307"},
		{func() (string, error) { return dbpAddSlave(ap, "tag_mt", 10) }, "ADD SLAVE 10.0.0.7:3307$tag_mt@10"},
		{func() (string, error) { return dbpSetOffline(3, 0), nil }, "SET OFFLINE 3"},
		{func() (string, error) { return dbpSetOffline(3, 2), nil }, "SET OFFLINE 3 TIMEOUT 2"},
		{func() (string, error) { return dbpRemove(4, 0), nil }, "REMOVE BACKEND 4"},
		{func() (string, error) { return dbpSetOnline(1), nil }, "SET ONLINE 1"},
	}
	for _, tc := range tests {
		if got, err := tc.got(); err != nil || got != tc.want {
			t.Errorf("got %q, %v; want %q", got, err, tc.want)
		}
	}
	if _, err := dbpAddMaster(netip.MustParseAddrPort("[::1]:3306")); err == nil {
		t.Error("IPv6 master accepted")
	}
	if _, err := dbpAddSlave(ap, "Tag;x", 1); err == nil {
		t.Error("invalid tag accepted")
	}
}

const dbpConfigSample = `# DBProxy instance source
[mysql-proxy]
admin-username=monitor
admin-password=secret
proxy-backend-addresses = 10.9.9.9:3306
proxy-read-only-backend-addresses=10.9.9.8:3306$tag_mt@10,10.9.9.7:3306
pwds=app:encrypted==
[other]
proxy-backend-addresses=kept
`

func TestRenderDBProxyConfig(t *testing.T) {
	got, err := renderDBProxyConfig(dbpConfigSample, []string{"10.0.0.2:3306"}, []string{"10.0.0.3:3306$mt@5", "10.0.0.4:3306"})
	if err != nil {
		t.Fatal(err)
	}
	want := `# DBProxy instance source
[mysql-proxy]
proxy-backend-addresses=10.0.0.2:3306
proxy-read-only-backend-addresses=10.0.0.3:3306$mt@5,10.0.0.4:3306
admin-username=monitor
admin-password=secret
pwds=app:encrypted==
[other]
proxy-backend-addresses=kept
`
	if got != want {
		t.Fatalf("rendered:\n%s\nwant:\n%s", got, want)
	}
	noReaders, err := renderDBProxyConfig(dbpConfigSample, []string{"10.0.0.2:3306"}, nil)
	if err != nil || strings.Contains(noReaders, "read-only-backend") {
		t.Fatalf("without readers: %v\n%s", err, noReaders)
	}
	if _, err := renderDBProxyConfig("[other]\nx=1\n", []string{"10.0.0.2:3306"}, nil); err == nil {
		t.Error("a template without [mysql-proxy] was accepted")
	}
	if _, err := renderDBProxyConfig(dbpConfigSample, nil, nil); err == nil {
		t.Error("no writer accepted")
	}
}

// FuzzRenderDBProxyConfig: the rendered [mysql-proxy] section holds the
// backend keys exactly once with the given values, other lines keep
// their order, and rendering is idempotent.
func FuzzRenderDBProxyConfig(f *testing.F) {
	writers, readers := []string{"10.0.0.2:3306"}, []string{"10.0.0.3:3306$mt@5"}
	f.Fuzz(func(t *testing.T, tmpl string) {
		got, err := renderDBProxyConfig(tmpl, writers, readers)
		if err != nil {
			return
		}
		if n := strings.Count(got, "\n"+dbpKeyRW+"=10.0.0.2:3306\n"); n < 1 {
			t.Fatalf("writer key missing:\n%q", got)
		}
		if !strings.Contains(got, "\n"+dbpKeyRO+"=10.0.0.3:3306$mt@5\n") {
			t.Fatalf("reader key missing:\n%q", got)
		}
		again, err := renderDBProxyConfig(got, writers, readers)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %v\n%q\n%q", err, got, again)
		}
	})
}

func TestParseStateDoc(t *testing.T) {
	st, err := parseStateDoc([]byte(`{"writers":[{"addr":"[::ffff:10.0.0.2]:3306","status":"UP","enabled":true,"up":true}],"extra":1}`))
	if err != nil || len(st.Writers) != 1 || st.Writers[0].Addr != "10.0.0.2:3306" || !st.Writers[0].Up {
		t.Fatalf("parseStateDoc = %+v, %v", st, err)
	}
	for _, bad := range []string{``, `[]`, `{"writers":[{"addr":"db:3306"}]}`, `{"readers":[{"addr":"10.0.0.1:0"}]}`, `{"writers":"x"}`} {
		if _, err := parseStateDoc([]byte(bad)); err == nil {
			t.Errorf("parseStateDoc(%q) succeeded", bad)
		}
	}
}

func FuzzParseStateDoc(f *testing.F) {
	f.Fuzz(func(t *testing.T, doc []byte) {
		st, err := parseStateDoc(doc)
		if err != nil {
			return
		}
		for _, b := range append(st.Writers, st.Readers...) {
			if ap, err := netip.ParseAddrPort(b.Addr); err != nil || ap.Port() == 0 {
				t.Fatalf("accepted addr %q", b.Addr)
			}
		}
		if _, err := json.Marshal(st); err != nil {
			t.Fatal(err)
		}
	})
}

func TestParseWarnings(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  \n", nil},
		{"a\n\n b \n", []string{"a", "b"}},
		{`{"warnings":["x","y"]}`, []string{"x", "y"}},
	}
	for _, tc := range tests {
		if got, err := parseWarnings([]byte(tc.in)); err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseWarnings(%q) = %q, %v", tc.in, got, err)
		}
	}
	if _, err := parseWarnings([]byte(`{"warnings":`)); err == nil {
		t.Error("truncated JSON accepted")
	}
}
