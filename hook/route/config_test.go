package route

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestConfigYAML(t *testing.T) {
	const doc = `
kind: proxysql
proxysql:
  admin: 127.0.0.1:6032
  user: radmin
  password_env: RECOUP_TEST_PROXYSQL_PW
  writer_hostgroup: 10
  reader_hostgroup: 20
  timeout: 3s
`
	var cfg Config
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.ProxySQL == nil || cfg.ProxySQL.WriterHostgroup != 10 || *cfg.ProxySQL.ReaderHostgroup != 20 ||
		cfg.ProxySQL.Timeout.Seconds() != 3 {
		t.Fatalf("decoded %+v", cfg.ProxySQL)
	}
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "RECOUP_TEST_PROXYSQL_PW is not set") {
		t.Fatalf("New without the password variable = %v", err)
	}
	t.Setenv("RECOUP_TEST_PROXYSQL_PW", "pw")
	r, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, ok := r.(*ProxySQL); !ok {
		t.Fatalf("New returned %T", r)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string // "" = valid
	}{
		{"none", Config{Kind: KindNone}, ""},
		{"empty", Config{}, ""},
		{"none with block", Config{Kind: KindNone, HAProxy: &HAProxyConfig{}}, "block is set"},
		{"unknown", Config{Kind: "nginx"}, "unknown kind"},
		{"missing block", Config{Kind: KindDBProxy}, "needs a dbproxy block"},
		{"two blocks", Config{Kind: KindCommand, Command: &CommandConfig{}, Webhook: &WebhookConfig{}}, "webhook block is set"},
		{"haproxy", Config{Kind: KindHAProxy, HAProxy: &HAProxyConfig{}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate = %v, want %q", err, tc.err)
			}
		})
	}
	if _, err := New(Config{Kind: KindNone}, nil); !errors.Is(err, ErrDisabled) {
		t.Fatalf("New(none) = %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"haproxy no socket", Config{Kind: KindHAProxy, HAProxy: &HAProxyConfig{WriterBackend: "w"}}, "socket is empty"},
		{"haproxy relative socket", Config{Kind: KindHAProxy, HAProxy: &HAProxyConfig{Socket: "run/h.sock", WriterBackend: "w"}}, "neither"},
		{"haproxy bad name", Config{Kind: KindHAProxy, HAProxy: &HAProxyConfig{Socket: "/s", WriterBackend: "w x"}}, "invalid backend or server name"},
		{"haproxy readers without backend", Config{Kind: KindHAProxy, HAProxy: &HAProxyConfig{Socket: "/s", WriterBackend: "w", ReaderServers: []string{"r"}}}, "without reader_backend"},
		{"dbproxy no password", Config{Kind: KindDBProxy, DBProxy: &DBProxyConfig{Admin: "127.0.0.1:3308"}}, "exactly one"},
		{"dbproxy bad tag", Config{Kind: KindDBProxy, DBProxy: &DBProxyConfig{Admin: "127.0.0.1:3308", PasswordEnv: "PATH", ReaderTag: "A;B"}}, "reader_tag"},
		{"dbproxy file relative", Config{Kind: KindDBProxy, DBProxy: &DBProxyConfig{Admin: "127.0.0.1:3308", PasswordEnv: "PATH",
			File: &DBProxyFileConfig{Template: "t", Output: "out.cnf"}}}, "absolute"},
		{"command empty", Config{Kind: KindCommand, Command: &CommandConfig{}}, "argv is empty"},
		{"webhook scheme", Config{Kind: KindWebhook, Webhook: &WebhookConfig{URL: "ftp://x/"}}, "http(s)"},
		{"webhook token both", Config{Kind: KindWebhook, Webhook: &WebhookConfig{URL: "http://127.0.0.1/", TokenFile: "/x", TokenEnv: "Y"}}, "only one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.cfg, testLogger(t))
			if err == nil {
				r.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("New = %v, want error containing %q", err, tc.err)
			}
		})
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	writeTestFile(t, file, "first line\r\nsecond\n")
	empty := filepath.Join(dir, "empty")
	writeTestFile(t, empty, "\n")
	t.Setenv("RECOUP_TEST_SECRET", "from env")
	tests := []struct {
		file, env, want, err string
	}{
		{file: file, want: "first line"},
		{env: "RECOUP_TEST_SECRET", want: "from env"},
		{err: "exactly one"},
		{file: file, env: "RECOUP_TEST_SECRET", err: "exactly one"},
		{file: filepath.Join(dir, "missing"), err: "no such file"},
		{file: empty, err: "empty"},
		{env: "RECOUP_TEST_UNSET_VARIABLE", err: "not set"},
	}
	for _, tc := range tests {
		got, err := ReadSecret(tc.file, tc.env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ReadSecret(%q, %q) = %q, %v; want error %q", tc.file, tc.env, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ReadSecret(%q, %q) = %q, %v; want %q", tc.file, tc.env, got, err, tc.want)
		}
	}
}
