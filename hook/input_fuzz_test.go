package hook

import (
	"maps"
	"strings"
	"testing"
)

// fuzzFields are the positions FuzzParseInput varies, in its argument order.
var fuzzFields = [...]int{0, 1, 6, 7, 8, 10, 18, 19, 20, 21, 24, 27}

// FuzzParseInput varies the hook name and eleven values of the fixture's
// PostFailoverProcesses invocation, each sent as an argument, a variable,
// both or neither (two bits of mask per value). ParseInput must never
// panic; whatever it accepts must pass the validators; the unmodified
// fixture must parse to its known values.
func FuzzParseInput(f *testing.F) {
	fx := loadFixture(f)
	seed := func(mask uint32, v ...string) {
		f.Add(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], mask)
	}
	var fixtureValues [len(fuzzFields)]string
	for i, p := range fuzzFields {
		fixtureValues[i] = fx.postArgs[p]
	}
	seed(0, fixtureValues[:]...)
	seed(0x555555, fixtureValues[:]...) // arguments only
	seed(0xaaaaaa, fixtureValues[:]...) // variables only
	seed(0, HookPreFailover, "DeadMaster", "", "127.0.0.1", "33306", "shop", "1:ab", "false",
		"{successorHost}", "{successorPort}", "", "127.0.0.1:33307")
	seed(0, HookPostFailover, "DeadMaster", "graceful-master-takeover", "::1", "3306", "shop eu", "x",
		"true", "fe80::2", "65535", "[::1]:3307", "a:1,b:2")
	seed(0x3, "PostFailoverProcesses", "DeadCoMaster", "force-master-failover", "db$(id)", "0", "../x",
		"a b", "yes", "db 1", "-1", "db;1:1", "{replicaHosts}")

	f.Fuzz(func(t *testing.T, hook, ftype, cmd, fhost, fport, alias, uid, ok, shost, sport, lost, replicas string, mask uint32) {
		values := [len(fuzzFields)]string{hook, ftype, cmd, fhost, fport, alias, uid, ok, shost, sport, lost, replicas}
		args := append([]string(nil), fx.postArgs...)
		env := maps.Clone(fx.postEnv)
		for i, p := range fuzzFields {
			how := (mask >> (2 * i)) & 3 // 0 both, 1 argument, 2 variable, 3 neither
			if how == 0 || how == 1 || p == 0 {
				args[p] = values[i]
			}
			if e := layout[p].Env; e != "" {
				delete(env, e)
				if how == 0 || how == 2 {
					env[e] = values[i]
				}
			}
		}
		in, err := ParseInput(args, env)
		if err != nil {
			return
		}
		checkAccepted(t, in)
		if mask == 0 && values == fixtureValues {
			if a := in.Action(); a.Kind != ActionCompensate || in.SuccessorPort != 33308 || in.FailedPort != 33306 {
				t.Fatalf("the fixture parsed to %+v, action %+v", in, a)
			}
		}
	})
}

// checkAccepted asserts that every value of an accepted Input passes its
// validator and that Action is consistent with it.
func checkAccepted(t *testing.T, in Input) {
	t.Helper()
	hosts := []string{in.FailedHost, in.SuccessorHost}
	ports := []int{in.FailedPort, in.SuccessorPort}
	for _, a := range append(append([]Addr(nil), in.LostReplicas...), in.ReplicaHosts...) {
		hosts, ports = append(hosts, a.Host), append(ports, a.Port)
		if _, err := ParseAddr(a.String()); err != nil {
			t.Fatalf("accepted address %v does not parse back: %v", a, err)
		}
	}
	for _, h := range hosts {
		if h != "" && ValidHost(h) != nil {
			t.Fatalf("accepted host %q fails ValidHost", h)
		}
	}
	for _, p := range ports {
		if p < 0 || p > 65535 {
			t.Fatalf("accepted port %d", p)
		}
	}
	if in.FailureClusterAlias != "" {
		if err := ValidAlias(in.FailureClusterAlias); err != nil {
			t.Fatalf("accepted alias %q: %v", in.FailureClusterAlias, err)
		}
		name := in.SafeName()
		if strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" ||
			name[0] == '.' || len(name) > 3*MaxAliasLen {
			t.Fatalf("SafeName(%q) = %q", in.FailureClusterAlias, name)
		}
		if back, ok := unSafeName(name); !ok || back != in.FailureClusterAlias {
			t.Fatalf("SafeName(%q) = %q decodes to %q", in.FailureClusterAlias, name, back)
		}
	}
	if in.RecoveryUID != "" && ValidRecoveryUID(in.RecoveryUID) != nil {
		t.Fatalf("accepted recovery UID %q", in.RecoveryUID)
	}
	if !isToken(in.Command, 64, true) {
		t.Fatalf("accepted command %q", in.Command)
	}
	a := in.Action()
	if strings.ContainsAny(a.Reason, "\n\r") {
		t.Fatalf("reason is not one line: %q", a.Reason)
	}
	if a.Kind != ActionIgnore && (in.FailureClass != FailureMaster || in.FailedPort == 0 || in.FailureClusterAlias == "") {
		t.Fatalf("action %v without a master failover: %+v", a.Kind, in)
	}
	if _, ok := in.Successor(); a.Kind == ActionCompensate && (!ok || !in.IsSuccessful) {
		t.Fatalf("compensate without a successful successor: %+v", in)
	}
}

// FuzzSafeName: names are made of [A-Za-z0-9._-] and decode back, so
// distinct aliases never share a lock, file or topic.
func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"", "shop", "127.0.0.1:33306", "a_b", "a__b", "_5f", ".", "..", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name := SafeName(s)
		if name == "" || name[0] == '.' {
			t.Fatalf("SafeName(%q) = %q", s, name)
		}
		for i := 0; i < len(name); i++ {
			if !safeByte(name[i]) {
				t.Fatalf("SafeName(%q) = %q has byte %q", s, name, name[i])
			}
		}
		if back, ok := unSafeName(name); !ok || back != s {
			t.Fatalf("SafeName(%q) = %q decodes to %q", s, name, back)
		}
	})
}
