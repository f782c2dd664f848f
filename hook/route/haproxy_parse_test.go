package route

import (
	"net/netip"
	"strings"
	"testing"
)

// A real answer of HAProxy 2.6 to "show servers state" (trailing blank
// line included).
const haStateSample = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 writer 1 db 127.0.0.2 0 1 1 1 7 8 2 0 14 0 0 0 - 3399 - 0 0 - - 0
4 readers 1 r1 127.0.0.1 2 0 1 1 8 1 0 2 0 0 0 0 - 3307 - 0 0 - - 0
4 readers 2 r2 ::1 0 5 1 1 1 1 0 0 8 0 0 0 - 3308 - 0 0 - - 0

`

func TestParseServersState(t *testing.T) {
	got, err := parseServersState(haStateSample)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id, addr, status string
		enabled, up      bool
	}{
		{"writer/db", "127.0.0.2:3399", "DOWN MAINT", false, false},
		{"readers/r1", "127.0.0.1:3307", "UP", true, true},
		{"readers/r2", "[::1]:3308", "DOWN MAINT", false, false},
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %d servers: %+v", len(got), got)
	}
	for i, w := range want {
		b := got[i].backend()
		if got[i].id() != w.id || b.Addr != w.addr || b.Status != w.status || b.Enabled != w.enabled || b.Up != w.up {
			t.Errorf("server %d = %s %+v, want %+v", i, got[i].id(), b, w)
		}
	}
	if got[1].CheckState&haCheckConfigured != 0 || got[0].CheckState&haCheckConfigured == 0 {
		t.Errorf("check state bits: %d, %d", got[0].CheckState, got[1].CheckState)
	}
	for _, bad := range []string{"", "Can't find backend.\n", "1\nno header\n", "1\n# be_name srv_name\n",
		strings.Replace(haStateSample, "127.0.0.2", "not-an-ip", 1), strings.Replace(haStateSample, " 3399 ", " 99999 ", 1)} {
		if _, err := parseServersState(bad); err == nil {
			t.Errorf("parseServersState(%.60q) succeeded", bad)
		}
	}
}

func FuzzParseServersState(f *testing.F) {
	f.Fuzz(func(t *testing.T, out string) {
		servers, err := parseServersState(out)
		if err != nil {
			return
		}
		for _, s := range servers {
			if s.Backend == "" || s.Name == "" || !s.Addr.Addr().IsValid() || s.OpState < 0 || s.AdminState < 0 {
				t.Fatalf("invalid server parsed: %+v", s)
			}
			_ = s.backend()
		}
	})
}

const haConfigSample = `global
    stats socket /run/haproxy.sock mode 600 level admin
defaults
    mode tcp
backend writer
    server db 10.0.0.1:3306 check inter 1s # the master
    server db2 10.0.0.9:3306 check disabled
listen readers
  bind 127.0.0.1:3307
  server r1 10.0.0.2:3306 check
  server r2 10.0.0.3:3306 disabled check
frontend fe
    bind :3306
backend other
    server db 10.5.5.5:3306 check
`

func TestRewriteHAProxyConfig(t *testing.T) {
	want := map[string]serverLine{
		"writer/db":  {addr: "10.0.0.2:3306"},
		"readers/r1": {addr: "10.0.0.4:3306", disabled: true},
		"readers/r2": {addr: "[::1]:3306"},
	}
	got, err := rewriteHAProxyConfig(haConfigSample, want)
	if err != nil {
		t.Fatal(err)
	}
	exp := strings.NewReplacer(
		"server db 10.0.0.1:3306 check inter 1s # the master", "server db 10.0.0.2:3306 check inter 1s # the master",
		"server r1 10.0.0.2:3306 check", "server r1 10.0.0.4:3306 check disabled",
		"server r2 10.0.0.3:3306 disabled check", "server r2 [::1]:3306 check",
	).Replace(haConfigSample)
	if got != exp {
		t.Fatalf("rewritten:\n%s\nwant:\n%s", got, exp)
	}
	if again, err := rewriteHAProxyConfig(got, want); err != nil || again != got {
		t.Fatalf("rewriting twice changed the file: %v\n%s", err, again)
	}
	for _, bad := range []map[string]serverLine{
		{"writer/ghost": {addr: "10.0.0.2:3306"}},
		{"fe/db": {addr: "10.0.0.2:3306"}}, // a frontend has no servers
	} {
		if _, err := rewriteHAProxyConfig(haConfigSample, bad); err == nil {
			t.Errorf("rewrite with %v succeeded", bad)
		}
	}
	dup := haConfigSample + "backend writer\n    server db 1.1.1.1:1\n"
	if _, err := rewriteHAProxyConfig(dup, want); err == nil {
		t.Error("a server defined twice was accepted")
	}
}

// FuzzRewriteHAProxyConfig: a successful rewrite keeps the number of
// lines, keeps every unmanaged line byte for byte, and is idempotent.
func FuzzRewriteHAProxyConfig(f *testing.F) {
	want := map[string]serverLine{"writer/db": {addr: "10.0.0.2:3306"}, "readers/r1": {addr: "10.0.0.4:3306", disabled: true}}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := rewriteHAProxyConfig(text, want)
		if err != nil {
			return
		}
		in, out := strings.SplitAfter(text, "\n"), strings.SplitAfter(got, "\n")
		if len(in) != len(out) {
			t.Fatalf("line count %d -> %d", len(in), len(out))
		}
		changed := 0
		for i := range in {
			if in[i] != out[i] {
				changed++
				if f := strings.Fields(out[i]); len(f) < 3 || f[0] != "server" {
					t.Fatalf("non-server line changed: %q -> %q", in[i], out[i])
				}
			}
		}
		if changed > len(want) {
			t.Fatalf("%d lines changed for %d servers", changed, len(want))
		}
		if again, err := rewriteHAProxyConfig(got, want); err != nil || again != got {
			t.Fatalf("not idempotent: %v\n%q\n%q", err, got, again)
		}
	})
}

func TestAssignSlots(t *testing.T) {
	ap := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	slots := []haServer{{Name: "r1", Addr: ap("10.0.0.1:1")}, {Name: "r2", Addr: ap("10.0.0.2:1")}, {Name: "r3", Addr: ap("10.0.0.3:1")}}
	got := assignSlots(slots, []netip.AddrPort{ap("10.0.0.9:1"), ap("10.0.0.2:1")})
	want := []string{"10.0.0.9:1", "10.0.0.2:1", "invalid AddrPort"}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("assignSlots = %v, want %v", got, want)
		}
	}
}
