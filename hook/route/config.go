package route

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Config selects and configures the proxy of one cluster; it is the
// `proxy:` block of recoup.yaml. Exactly the block named by Kind is used.
//
//	proxy:
//	  kind: haproxy            # haproxy | dbproxy | proxysql | command | webhook | none
//	  haproxy:
//	    socket: /run/haproxy/admin.sock
//	    writer_backend: mysql_writer
//	    reader_backend: mysql_readers
//	    state_file: /var/lib/haproxy/server-state
//	    config_file: /etc/haproxy/haproxy.cfg
//
// Secrets (admin passwords, webhook tokens) come from a file (first line)
// or an environment variable, never inline.
type Config struct {
	Kind     string          `yaml:"kind"`
	HAProxy  *HAProxyConfig  `yaml:"haproxy"`
	DBProxy  *DBProxyConfig  `yaml:"dbproxy"`
	ProxySQL *ProxySQLConfig `yaml:"proxysql"`
	Command  *CommandConfig  `yaml:"command"`
	Webhook  *WebhookConfig  `yaml:"webhook"`
}

// Kinds of proxy.
const (
	KindNone     = "none"
	KindHAProxy  = "haproxy"
	KindDBProxy  = "dbproxy"
	KindProxySQL = "proxysql"
	KindCommand  = "command"
	KindWebhook  = "webhook"
)

// Enabled reports whether recoup switches a proxy for this cluster.
func (c Config) Enabled() bool { return c.Kind != "" && c.Kind != KindNone }

// Validate checks that Kind is known and its block present, and that no
// other block is set (a likely mistake).
func (c Config) Validate() error {
	blocks := map[string]bool{
		KindHAProxy: c.HAProxy != nil, KindDBProxy: c.DBProxy != nil, KindProxySQL: c.ProxySQL != nil,
		KindCommand: c.Command != nil, KindWebhook: c.Webhook != nil,
	}
	if !c.Enabled() {
		for k, set := range blocks {
			if set {
				return fmt.Errorf("proxy: kind is %q but a %s block is set", c.Kind, k)
			}
		}
		return nil
	}
	if _, ok := blocks[c.Kind]; !ok {
		return fmt.Errorf("proxy: unknown kind %q (want haproxy, dbproxy, proxysql, command, webhook or none)", c.Kind)
	}
	for k, set := range blocks {
		if k == c.Kind && !set {
			return fmt.Errorf("proxy: kind %s needs a %s block", c.Kind, k)
		}
		if k != c.Kind && set {
			return fmt.Errorf("proxy: kind is %s but a %s block is set", c.Kind, k)
		}
	}
	return nil
}

// New validates cfg, reads its secret and returns the Router. For Kind
// "none" or empty it returns ErrDisabled. It does not contact the proxy:
// call Preflight for that.
func New(cfg Config, log *slog.Logger) (Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Kind {
	case KindHAProxy:
		return NewHAProxy(*cfg.HAProxy, log)
	case KindDBProxy:
		pw, err := ReadSecret(cfg.DBProxy.PasswordFile, cfg.DBProxy.PasswordEnv)
		if err != nil {
			return nil, fmt.Errorf("dbproxy admin password: %w", err)
		}
		return NewDBProxy(*cfg.DBProxy, pw, log)
	case KindProxySQL:
		pw, err := ReadSecret(cfg.ProxySQL.PasswordFile, cfg.ProxySQL.PasswordEnv)
		if err != nil {
			return nil, fmt.Errorf("proxysql admin password: %w", err)
		}
		return NewProxySQL(*cfg.ProxySQL, pw, log)
	case KindCommand:
		return NewCommand(*cfg.Command, log)
	case KindWebhook:
		tok, err := readOptionalSecret(cfg.Webhook.TokenFile, cfg.Webhook.TokenEnv)
		if err != nil {
			return nil, fmt.Errorf("webhook token: %w", err)
		}
		return NewWebhook(*cfg.Webhook, tok, log)
	}
	return nil, ErrDisabled
}

// ReadSecret returns the first line of file, or the value of the
// environment variable env; exactly one must be set, and the secret must
// not be empty.
func ReadSecret(file, env string) (string, error) {
	if (file == "") == (env == "") {
		return "", errors.New("set exactly one of password_file/token_file and password_env/token_env")
	}
	s, err := readOptionalSecret(file, env)
	if err == nil && s == "" {
		err = errors.New("secret is empty")
	}
	return s, err
}

// readOptionalSecret is ReadSecret where neither source is fine ("").
func readOptionalSecret(file, env string) (string, error) {
	switch {
	case file != "" && env != "":
		return "", errors.New("set only one of the file and env sources")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading secret file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimRight(line, "\r"), nil
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", env)
		}
		return v, nil
	}
	return "", nil
}

var (
	_ Router = (*HAProxy)(nil)
	_ Router = (*DBProxy)(nil)
	_ Router = (*ProxySQL)(nil)
	_ Router = (*External)(nil)
)
