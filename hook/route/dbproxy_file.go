package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DBProxyFileConfig is the file-based path of the original deployment:
// render DBProxy's configuration (an INI file, section [mysql-proxy]) with
// the current backends, then run the upload, distribute and restart
// commands, in that order (each optional). Commands are argv arrays run
// without a shell; the only substitution is "{file}", replaced by Output.
// They also get RECOUP_ACTION=persist, RECOUP_CLUSTER and
// RECOUP_DBPROXY_CONFIG (= Output) in their environment.
type DBProxyFileConfig struct {
	// Template is the DBProxy configuration to start from; every line but
	// proxy-backend-addresses and proxy-read-only-backend-addresses is
	// kept as is.
	Template string `yaml:"template"`
	// Output is where the rendered file is written (mode 0600: the file
	// holds DBProxy's user list).
	Output     string        `yaml:"output"`
	Upload     []string      `yaml:"upload"`
	Distribute []string      `yaml:"distribute"`
	Restart    []string      `yaml:"restart"`
	Timeout    time.Duration `yaml:"timeout"` // per command, default 2m
}

func (f *DBProxyFileConfig) check() error {
	if f.Template == "" || f.Output == "" {
		return errors.New("dbproxy file: template and output are required")
	}
	if !filepath.IsAbs(f.Output) {
		return fmt.Errorf("dbproxy file: output %q must be an absolute path", f.Output)
	}
	for _, argv := range [][]string{f.Upload, f.Distribute, f.Restart} {
		if len(argv) > 0 && argv[0] == "" {
			return errors.New("dbproxy file: a command has an empty program")
		}
	}
	return nil
}

func (f *DBProxyFileConfig) preflight() []string {
	var warns []string
	if _, err := os.Stat(f.Template); err != nil {
		warns = append(warns, fmt.Sprintf("dbproxy file: template: %v", err))
	}
	for _, argv := range [][]string{f.Upload, f.Distribute, f.Restart} {
		if len(argv) == 0 {
			continue
		}
		if _, err := exec.LookPath(argv[0]); err != nil {
			warns = append(warns, fmt.Sprintf("dbproxy file: command %s: %v", argv[0], err))
		}
	}
	return warns
}

// ship renders the configuration from list and runs the commands.
func (f *DBProxyFileConfig) ship(ctx context.Context, list []dbBackend, log *slog.Logger) error {
	writers, readers := configBackends(list)
	if len(writers) == 0 {
		return errors.New("rendering DBProxy config: no read-write backend online")
	}
	tmpl, err := os.ReadFile(f.Template)
	if err != nil {
		return fmt.Errorf("rendering DBProxy config: %w", err)
	}
	text, err := renderDBProxyConfig(string(tmpl), writers, readers)
	if err != nil {
		return fmt.Errorf("rendering DBProxy config from %s: %w", f.Template, err)
	}
	if err := writeFileAtomic(f.Output, []byte(text), 0o600); err != nil {
		return fmt.Errorf("rendering DBProxy config: %w", err)
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	env := []string{"RECOUP_ACTION=persist", "RECOUP_CLUSTER=" + FailoverFrom(ctx).Cluster, "RECOUP_DBPROXY_CONFIG=" + f.Output}
	for _, c := range []struct {
		what string
		argv []string
	}{{"upload", f.Upload}, {"distribute", f.Distribute}, {"restart", f.Restart}} {
		if len(c.argv) == 0 {
			continue
		}
		start := time.Now()
		if _, err := runCommand(ctx, substituteFile(c.argv, f.Output), env, timeout); err != nil {
			return fmt.Errorf("DBProxy config %s: %w", c.what, err)
		}
		log.Info("config command done", "step", c.what, "took", time.Since(start))
	}
	return nil
}

func substituteFile(argv []string, path string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = strings.ReplaceAll(a, "{file}", path)
	}
	return out
}

// configBackends lists the online backends in configuration syntax:
// "ip:port" for read-write, "ip:port[$tag][@weight]" for read-only.
func configBackends(list []dbBackend) (writers, readers []string) {
	for _, b := range list {
		if !b.online() || !b.Addr.IsValid() {
			continue
		}
		switch b.Type {
		case "rw":
			writers = append(writers, b.Addr.String())
		case "ro":
			s := b.Addr.String()
			if b.Tag != "" && dbpTag.MatchString(b.Tag) {
				s += "$" + b.Tag
			}
			if b.Weight > 1 {
				s += "@" + strconv.Itoa(b.Weight)
			}
			readers = append(readers, s)
		}
	}
	return writers, readers
}

const (
	dbpKeyRW = "proxy-backend-addresses"
	dbpKeyRO = "proxy-read-only-backend-addresses"
)

// renderDBProxyConfig replaces the backend keys of section [mysql-proxy]
// (written right after the section header, duplicates dropped, the
// read-only key dropped when readers is empty) and keeps every other line
// byte for byte.
func renderDBProxyConfig(tmpl string, writers, readers []string) (string, error) {
	if len(writers) == 0 {
		return "", errors.New("no read-write backend")
	}
	keys := dbpKeyRW + "=" + strings.Join(writers, ",") + "\n"
	if len(readers) > 0 {
		keys += dbpKeyRO + "=" + strings.Join(readers, ",") + "\n"
	}
	var out strings.Builder
	inSection, written := false, false
	for _, line := range strings.SplitAfter(tmpl, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") && strings.HasSuffix(trimmed, "]") {
			inSection = strings.TrimSpace(trimmed[1:len(trimmed)-1]) == "mysql-proxy"
			out.WriteString(line)
			if inSection && !written {
				if !strings.HasSuffix(line, "\n") {
					out.WriteString("\n")
				}
				out.WriteString(keys)
				written = true
			}
			continue
		}
		if key := iniKey(trimmed); inSection && (key == dbpKeyRW || key == dbpKeyRO) {
			continue
		}
		out.WriteString(line)
	}
	if !written {
		return "", errors.New("no [mysql-proxy] section")
	}
	return out.String(), nil
}

// iniKey returns the key of a "key = value" line ("" for comments and
// other lines).
func iniKey(trimmed string) string {
	if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
		return ""
	}
	k, _, ok := strings.Cut(trimmed, "=")
	if !ok {
		return strings.TrimSpace(trimmed)
	}
	return strings.TrimSpace(k)
}
