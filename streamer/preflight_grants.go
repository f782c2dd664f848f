package streamer

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// grants are the current user's privileges as SHOW GRANTS prints them
// (for the user and its active role), by target: "*.*" or a schema pattern.
type grants struct {
	global  map[string]bool
	schemas []schemaGrant
}

type schemaGrant struct {
	pattern string // as in GRANT ... ON `pattern`.*, with \_ and \% escapes
	privs   map[string]bool
}

func readGrants(ctx context.Context, db *sql.DB) (*grants, error) {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return nil, fmt.Errorf("reading the user's grants: %w", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, fmt.Errorf("reading the user's grants: %w", err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the user's grants: %w", err)
	}
	return parseGrants(lines), nil
}

// parseGrants reads "GRANT p1, p2 ON target TO ..." lines; role grants
// and PROXY lines are ignored.
func parseGrants(lines []string) *grants {
	g := &grants{global: map[string]bool{}}
	for _, l := range lines {
		rest, ok := strings.CutPrefix(strings.TrimSpace(l), "GRANT ")
		if !ok {
			continue
		}
		privText, target, ok := strings.Cut(rest, " ON ")
		if !ok {
			continue
		}
		target, _, _ = strings.Cut(target, " TO ")
		privs := map[string]bool{}
		for _, p := range splitPrivs(privText) {
			privs[p] = true
		}
		target = strings.TrimSpace(target)
		if target == "*.*" {
			for p := range privs {
				g.global[p] = true
			}
			continue
		}
		if db, ok := strings.CutSuffix(target, ".*"); ok {
			g.schemas = append(g.schemas, schemaGrant{pattern: unquoteIdent(db), privs: privs})
		}
	}
	return g
}

// splitPrivs splits "SELECT, INSERT (a, b), REPLICATION SLAVE" into upper
// case privilege names; column privileges ("INSERT (a, b)") cover only
// those columns and are left out.
func splitPrivs(s string) []string {
	var out []string
	depth, start := 0, 0
	add := func(p string) {
		if strings.IndexByte(p, '(') >= 0 {
			return
		}
		if p = strings.ToUpper(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				add(s[start:i])
				start = i + 1
			}
		}
	}
	add(s[start:])
	return out
}

func unquoteIdent(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' {
		return strings.ReplaceAll(s[1:len(s)-1], "``", "`")
	}
	return s
}

func hasPriv(privs map[string]bool, p string) bool {
	return privs[p] || privs["ALL PRIVILEGES"] || privs["ALL"]
}

// global reports whether the user holds p on *.*.
func (g *grants) hasGlobal(p string) bool { return hasPriv(g.global, p) }

// onSchema reports whether the user holds p on every table of schema.
func (g *grants) onSchema(p, schema string) bool {
	if g.hasGlobal(p) {
		return true
	}
	for _, sg := range g.schemas {
		if hasPriv(sg.privs, p) && likeMatch(sg.pattern, schema) {
			return true
		}
	}
	return false
}

// likeMatch matches s against a GRANT schema pattern: % and _ are
// wildcards, \% and \_ literal.
func likeMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch c := pattern[0]; {
	case c == '%':
		for i := 0; i <= len(s); i++ {
			if likeMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case c == '_':
		return s != "" && likeMatch(pattern[1:], s[1:])
	case c == '\\' && len(pattern) > 1:
		return s != "" && s[0] == pattern[1] && likeMatch(pattern[2:], s[1:])
	default:
		return s != "" && s[0] == c && likeMatch(pattern[1:], s[1:])
	}
}
