package deploy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestHAProxyConfig: HAProxy itself accepts haproxy.cfg, and it has what
// recoup's HAProxy router needs: an admin-level stats socket, a
// server-state-file loaded at start, and the backends recoup.yaml names.
func TestHAProxyConfig(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatal("haproxy not found: install it (apt-get install haproxy) to check deploy/haproxy.cfg")
	}
	out, err := exec.CommandContext(t.Context(), bin, "-c", "-f", "haproxy.cfg").CombinedOutput()
	if err != nil || strings.Contains(string(out), "[ALERT]") {
		t.Fatalf("haproxy -c -f haproxy.cfg: %v\n%s", err, out)
	}
	b, err := os.ReadFile("haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{"level admin", "server-state-file ", "load-server-state-from-file global",
		"backend mysql_writer\n", "backend mysql_readers\n", "option mysql-check user haproxy_check",
		"    server r3 127.0.0.1:1 check disabled\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("haproxy.cfg lacks %q", want)
		}
	}
	if n := strings.Count(sectionOf(text, "backend mysql_writer"), "\n    server "); n != 1 {
		t.Errorf("the writer backend has %d server lines, want exactly 1", n)
	}
}

// sectionOf returns the lines of an HAProxy section, up to the next one.
func sectionOf(cfg, header string) string {
	i := strings.Index(cfg, "\n"+header+"\n")
	if i < 0 {
		return ""
	}
	rest := cfg[i+len(header)+2:]
	for _, next := range []string{"\nfrontend ", "\nbackend ", "\nglobal", "\ndefaults"} {
		if j := strings.Index(rest, next); j >= 0 {
			rest = rest[:j]
		}
	}
	return "\n" + rest
}

// TestSystemdUnit: the unit has the settings README.md promises, and its
// credential lands where recoup.yaml reads the password.
func TestSystemdUnit(t *testing.T) {
	f, err := os.Open("recoup-stream.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			set[k] = append(set[k], v)
		}
	}
	for k, want := range map[string]string{
		"User": "recoup", "Restart": "always", "StateDirectory": "recoup", "NoNewPrivileges": "yes",
		"ProtectSystem": "strict", "ReadWritePaths": "/var/lib/recoup",
		"ExecStart": "/usr/local/bin/recoup stream --config /etc/recoup/recoup.yaml",
	} {
		if len(set[k]) != 1 || set[k][0] != want {
			t.Errorf("%s=%q, want %q", k, set[k], want)
		}
	}
	b, err := os.ReadFile("recoup.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Clusters []struct {
			Name         string `yaml:"name"`
			PasswordFile string `yaml:"password_file"`
		} `yaml:"clusters"`
	}
	if err := yaml.Unmarshal(b, &conf); err != nil || len(conf.Clusters) == 0 {
		t.Fatalf("recoup.yaml: %v", err)
	}
	cred, _, _ := strings.Cut(strings.Join(set["LoadCredential"], ""), ":")
	if want := filepath.Join("/run/credentials/recoup-stream.service", cred); conf.Clusters[0].PasswordFile != want {
		t.Errorf("recoup.yaml password_file %q, but LoadCredential puts the password at %q", conf.Clusters[0].PasswordFile, want)
	}
	meta, err := os.ReadFile("meta.sql")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(meta), "VALUES (1, '"+conf.Clusters[0].Name+"')") {
		t.Errorf("meta.sql does not store the alias %q of recoup.yaml's cluster", conf.Clusters[0].Name)
	}
}
