package streamer

import (
	"strings"
	"testing"
)

func TestParseGrants(t *testing.T) {
	g := parseGrants([]string{
		"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `cap`@`%` IDENTIFIED BY PASSWORD '*ABC'",
		"GRANT SELECT, INSERT (`a`, `b`) ON `app`.* TO `cap`@`%`",
		"GRANT ALL PRIVILEGES ON `shop\\_%`.* TO `cap`@`%`",
		"GRANT SELECT ON `x`.`t` TO `cap`@`%`",
		"GRANT `role1` TO `cap`@`%`",
		"GRANT PROXY ON ''@'%' TO 'cap'@'%'",
	})
	tests := []struct {
		priv, schema string
		want         bool
	}{
		{"SELECT", "app", true},
		{"SELECT", "shop_1", true},
		{"SELECT", "shopx1", false}, // \_ is a literal underscore
		{"SELECT", "x", false},      // a table grant does not cover the schema
		{"INSERT", "app", false},    // column grant only
		{"SELECT", "other", false},
	}
	for _, tc := range tests {
		if got := g.onSchema(tc.priv, tc.schema); got != tc.want {
			t.Errorf("onSchema(%s, %s) = %v, want %v", tc.priv, tc.schema, got, tc.want)
		}
	}
	if !g.hasGlobal("REPLICATION SLAVE") || !g.hasGlobal("BINLOG MONITOR") || g.hasGlobal("SELECT") {
		t.Errorf("global grants = %v", g.global)
	}
	all := parseGrants([]string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"})
	if !all.hasGlobal("REPLICATION SLAVE") || !all.onSchema("SELECT", "anything") {
		t.Errorf("ALL PRIVILEGES ON *.* does not cover everything: %v", all.global)
	}
}

func TestLikeMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"app", "app", true}, {"app", "apps", false}, {"a%", "abc", true}, {"a_c", "abc", true},
		{"a\\_c", "abc", false}, {"a\\_c", "a_c", true}, {"%", "", true}, {"_", "", false}, {"%b%", "abc", true},
	}
	for _, tc := range tests {
		if got := likeMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("likeMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func FuzzParseGrants(f *testing.F) {
	for _, s := range []string{"GRANT SELECT ON `a`.* TO `u`@`%`", "GRANT ALL ON *.* TO u", "GRANT (( ON", "GRANT r TO u"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		g := parseGrants([]string{line})
		// A line that does not grant on *.* never yields global privileges.
		if !strings.Contains(line, " ON *.*") && len(g.global) > 0 {
			t.Errorf("parseGrants(%q) gave global privileges %v", line, g.global)
		}
		for _, sg := range g.schemas {
			_ = likeMatch(sg.pattern, "app")
		}
	})
}
