package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
