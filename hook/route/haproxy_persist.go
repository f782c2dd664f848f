package route

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Persist implements Router. HAProxy keeps runtime changes in memory only.
// With StateFile set, the output of "show servers state" is written there
// (HAProxy's documented server-state-file format; a restart with
// "load-server-state-from-file global" restores admin states and ports).
// HAProxy does not restore a server's IP address from that file, so with
// ConfigFile set the managed server lines are rewritten too: address and
// port from the runtime, "disabled" when the server is in maintenance.
func (h *HAProxy) Persist(ctx context.Context) error {
	if h.cfg.StateFile == "" && h.cfg.ConfigFile == "" {
		return errors.New("persisting haproxy routing: neither state_file nor config_file is configured")
	}
	if h.cfg.StateFile != "" {
		_, raw, err := h.cli.serversState(ctx, "")
		if err != nil {
			return fmt.Errorf("persisting haproxy server state: %w", err)
		}
		if err := writeFileAtomic(h.cfg.StateFile, []byte(raw), 0); err != nil {
			return fmt.Errorf("persisting haproxy server state: %w", err)
		}
	}
	if h.cfg.ConfigFile != "" {
		if err := h.persistConfig(ctx); err != nil {
			return fmt.Errorf("persisting haproxy routing to %s: %w", h.cfg.ConfigFile, err)
		}
	}
	h.log.Info("routing persisted", "cluster", FailoverFrom(ctx).Cluster,
		"state_file", h.cfg.StateFile, "config_file", h.cfg.ConfigFile)
	return nil
}

func (h *HAProxy) persistConfig(ctx context.Context) error {
	managed, err := h.writers(ctx)
	if err != nil {
		return err
	}
	rs, err := h.readers(ctx)
	if err != nil {
		return err
	}
	managed = append(managed, rs...)
	want := make(map[string]serverLine, len(managed))
	for _, s := range managed {
		want[s.id()] = serverLine{addr: s.Addr.String(), disabled: s.maint()}
	}
	old, err := os.ReadFile(h.cfg.ConfigFile)
	if err != nil {
		return err
	}
	text, err := rewriteHAProxyConfig(string(old), want)
	if err != nil {
		return err
	}
	if text == string(old) {
		return nil
	}
	return writeFileAtomic(h.cfg.ConfigFile, []byte(text), 0)
}

// serverLine is what a managed "server" line must say.
type serverLine struct {
	addr     string // ip:port ([ip6]:port)
	disabled bool
}

// haSections are the keywords that open a section in an HAProxy
// configuration; indentation is optional in HAProxy, so keywords decide.
var haSections = []string{"global", "defaults", "frontend", "backend", "listen", "resolvers",
	"peers", "userlist", "mailers", "program", "http-errors", "ring", "cache", "fcgi-app",
	"crt-store", "traces", "log-forward", "dynamic-update"}

// rewriteHAProxyConfig rewrites the "server" lines of want (keyed
// "backend/server") and leaves every other line as it was. It fails when a
// wanted server has no line.
func rewriteHAProxyConfig(text string, want map[string]serverLine) (string, error) {
	lines := strings.SplitAfter(text, "\n")
	section := ""
	found := make(map[string]bool, len(want))
	for i, line := range lines {
		body := strings.TrimRight(line, "\r\n")
		f := haFields(stripComment(body))
		if len(f) == 0 {
			continue
		}
		if slices.Contains(haSections, f[0]) {
			section = ""
			if (f[0] == "backend" || f[0] == "listen") && len(f) > 1 {
				section = f[1]
			}
			continue
		}
		if section == "" || f[0] != "server" || len(f) < 3 {
			continue
		}
		key := section + "/" + f[1]
		sl, ok := want[key]
		if !ok {
			continue
		}
		if found[key] {
			return "", fmt.Errorf("server %s defined twice", key)
		}
		found[key] = true
		lines[i] = rewriteServerLine(body, sl) + line[len(body):]
	}
	for key := range want {
		if !found[key] {
			return "", fmt.Errorf("no server line for %s", key)
		}
	}
	return strings.Join(lines, ""), nil
}

// haFields splits a line into words the way HAProxy does: on spaces and
// tabs (quotes and escapes are not handled: server lines do not need them).
func haFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
}

// stripComment drops a trailing "#" comment (a '#' starting a word).
func stripComment(body string) string {
	for i := 0; i < len(body); i++ {
		if body[i] == '#' && (i == 0 || body[i-1] == ' ' || body[i-1] == '\t') {
			return body[:i]
		}
	}
	return body
}

// rewriteServerLine keeps the indentation, keywords and trailing comment of
// a server line and replaces its address and "disabled" keyword.
func rewriteServerLine(body string, sl serverLine) string {
	indent := body[:len(body)-len(strings.TrimLeft(body, " \t"))]
	code := stripComment(body)
	comment := body[len(code):]
	f := haFields(code)
	out := []string{"server", f[1], sl.addr}
	for _, a := range f[3:] {
		if a != "disabled" && a != "enabled" {
			out = append(out, a)
		}
	}
	if sl.disabled {
		out = append(out, "disabled")
	}
	if comment != "" {
		out = append(out, comment)
	}
	return indent + strings.Join(out, " ")
}
