package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodConfig = `
clusters:
  - name: shop
    master: 127.0.0.1:3306
    user: recoup
    password_env: RECOUP_TEST_PW
    server_id: 4001
store:
  local:
    dir: /tmp/recoup-test
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "recoup.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(writeConfig(t, goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.Clusters[0].Flavor != "mariadb" || c.Store.Kind != "local" || c.Admin.Listen != "127.0.0.1:7878" {
		t.Errorf("defaults not applied: %+v", c)
	}
	t.Setenv("RECOUP_TEST_PW", "s3cret")
	if pw, err := c.Clusters[0].Password(); err != nil || pw != "s3cret" {
		t.Errorf("password = %q, %v", pw, err)
	}
}

func TestPasswordFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte("from-file\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cl := ClusterConfig{Name: "x", PasswordFile: p}
	if pw, err := cl.Password(); err != nil || pw != "from-file" {
		t.Errorf("password = %q, %v", pw, err)
	}
	cl = ClusterConfig{Name: "x", PasswordEnv: "RECOUP_SURELY_UNSET_VAR"}
	if _, err := cl.Password(); err == nil || !strings.Contains(err.Error(), "RECOUP_SURELY_UNSET_VAR") {
		t.Errorf("unset env: err = %v", err)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	cases := []struct{ name, edit, want string }{
		{"no clusters", "clusters: []\n", "clusters: at least one"},
		{"bad flavor", strings.Replace(goodConfig, "user: recoup", "user: recoup\n    flavor: oracle", 1), "clusters[0].flavor"},
		{"bad master", strings.Replace(goodConfig, "127.0.0.1:3306", "db1", 1), "clusters[0].master"},
		{"port range", strings.Replace(goodConfig, "127.0.0.1:3306", "127.0.0.1:70000", 1), "port must be 1..65535"},
		{"two passwords", strings.Replace(goodConfig, "password_env: RECOUP_TEST_PW", "password_env: A\n    password_file: /x", 1), "exactly one of password_file or password_env"},
		{"no server id", strings.Replace(goodConfig, "server_id: 4001", "", 1), "clusters[0].server_id"},
		{"unknown key", goodConfig + "bogus: 1\n", "field bogus not found"},
		{"inline password", strings.Replace(goodConfig, "password_env: RECOUP_TEST_PW", "password: hunter2", 1), "field password not found"},
		{"store kind", goodConfig + "  kind: s3\n", `store.kind: "s3"`},
		{"kafka brokers", strings.Replace(goodConfig, "store:\n", "store:\n  kind: kafka\n", 1), "store.kafka.brokers"},
		{"public admin without token", goodConfig + "admin:\n  listen: 0.0.0.0:7878\n", "not a loopback address"},
		{"log level", goodConfig + "log:\n  level: loud\n", "log.level"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, c.edit))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v; want it to mention %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestDuplicateNamesAndServerIDs(t *testing.T) {
	text := goodConfig + `  - name: shop
    master: 127.0.0.1:3307
    user: recoup
    password_env: X
    server_id: 4001
`
	text = strings.Replace(text, "store:\n  local:\n    dir: /tmp/recoup-test\n", "", 1) + "store:\n  local:\n    dir: /tmp/x\n"
	_, err := LoadConfig(writeConfig(t, text))
	if err == nil || !strings.Contains(err.Error(), `"shop" is used twice`) || !strings.Contains(err.Error(), "4001 is also used") {
		t.Errorf("err = %v", err)
	}
}

// The example a user copies must load as it ships.
func TestDeployExampleLoads(t *testing.T) {
	c, err := LoadConfig("../../deploy/recoup.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Clusters) == 0 {
		t.Fatal("deploy/recoup.yaml has no cluster")
	}
}

func TestOrchestratorConfig(t *testing.T) {
	orch := func(body string) string {
		return strings.Replace(goodConfig, "server_id: 4001\n", "server_id: 4001\n    orchestrator:\n"+body, 1)
	}
	c, err := LoadConfig(writeConfig(t, orch("      url: http://orc:3000/prefix\n      interval: 2s\n      user: recoup\n      password_env: RECOUP_TEST_ORC\n")))
	if err != nil {
		t.Fatal(err)
	}
	o := c.Clusters[0].Orchestrator
	if o == nil || o.URL != "http://orc:3000/prefix" || o.Interval != 2*time.Second || o.User != "recoup" {
		t.Fatalf("orchestrator = %+v", o)
	}
	t.Setenv("RECOUP_TEST_ORC", "orc-pw")
	pc, err := o.pollerConfig("shop")
	if err != nil || pc.Password != "orc-pw" || pc.URL != o.URL || pc.Interval != 2*time.Second {
		t.Errorf("poller config = %+v, %v", pc, err)
	}
	if c, err := LoadConfig(writeConfig(t, goodConfig)); err != nil || c.Clusters[0].Orchestrator != nil {
		t.Errorf("no orchestrator section: %v, %+v", err, c)
	}
	bad := []struct{ name, body, want string }{
		{"no url", "      interval: 5s\n", "clusters[0].orchestrator.url"},
		{"ftp url", "      url: ftp://orc\n", "clusters[0].orchestrator.url"},
		{"credentials in url", "      url: http://u:p@orc:3000\n", "not in the URL"},
		{"interval too short", "      url: http://orc:3000\n      interval: 1ms\n", "below 100ms"},
		{"password without user", "      url: http://orc:3000\n      password_env: X\n", "a password without user"},
		{"user without password", "      url: http://orc:3000\n      user: u\n", "exactly one of password_file or password_env"},
		{"unknown key", "      url: http://orc:3000\n      pasword: x\n", "field pasword not found"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadConfig(writeConfig(t, orch(tc.body))); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestAdminToken(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte("  s3cret-token \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := (AdminConfig{TokenFile: p}).Token(); err != nil || tok != "s3cret-token" {
		t.Errorf("token from file = %q, %v", tok, err)
	}
	if tok, err := (AdminConfig{}).Token(); err != nil || tok != "" {
		t.Errorf("no token configured = %q, %v", tok, err)
	}
	t.Setenv("RECOUP_TEST_EMPTY_TOKEN", " ")
	if _, err := (AdminConfig{TokenEnv: "RECOUP_TEST_EMPTY_TOKEN"}).Token(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token: err = %v", err)
	}
	if _, err := (AdminConfig{TokenEnv: "RECOUP_SURELY_UNSET_VAR"}).Token(); err == nil {
		t.Error("unset token variable: no error")
	}
}

// The README's minimal config must load as printed.
func TestReadmeConfigLoads(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no yaml block")
	}
	if _, err := LoadConfig(writeConfig(t, block)); err != nil {
		t.Fatalf("README's recoup.yaml: %v", err)
	}
}
