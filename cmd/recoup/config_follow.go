package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/recoup-dev/recoup/streamer"
)

// OrchestratorConfig is a cluster's `orchestrator:` section: the streamer
// polls GET {url}/api/master/{alias} and follows the master it reports.
//
//	orchestrator:
//	  url: http://orchestrator:3000   # with Orchestrator's URL prefix, if any
//	  alias: shop                     # default: the cluster's name
//	  interval: 5s                    # default 5s, at least 100ms
//	  user: recoup                    # HTTP basic auth (HTTPAuthUser); optional
//	  password_file: /etc/recoup/orchestrator.pw   # or password_env
type OrchestratorConfig struct {
	URL          string        `yaml:"url"`
	Alias        string        `yaml:"alias"`
	Interval     time.Duration `yaml:"interval"`
	User         string        `yaml:"user"`
	PasswordFile string        `yaml:"password_file"`
	PasswordEnv  string        `yaml:"password_env"`
}

// validate reports the problems of a cluster's orchestrator section (none
// when it is absent).
func (o *OrchestratorConfig) validate(at string) []error {
	if o == nil {
		return nil
	}
	at += ".orchestrator"
	var errs []error
	if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("%s.url: %q: want http(s)://host[:port][/prefix]", at, o.URL))
	} else if u.User != nil {
		errs = append(errs, fmt.Errorf("%s.url: put credentials in user and password_file/password_env, not in the URL", at))
	}
	if o.Interval != 0 && o.Interval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("%s.interval: %s is below 100ms", at, o.Interval))
	}
	hasPassword := o.PasswordFile != "" || o.PasswordEnv != ""
	switch {
	case o.User == "" && hasPassword:
		errs = append(errs, fmt.Errorf("%s: a password without user", at))
	case o.User != "" && (o.PasswordFile == "") == (o.PasswordEnv == ""):
		errs = append(errs, fmt.Errorf("%s: with user, set exactly one of password_file or password_env", at))
	}
	return errs
}

// pollerConfig resolves the password and builds the poller's config.
func (o *OrchestratorConfig) pollerConfig(cluster string) (streamer.OrchestratorConfig, error) {
	pw, err := secret(o.PasswordFile, o.PasswordEnv, "cluster "+cluster+" orchestrator password")
	if err != nil {
		return streamer.OrchestratorConfig{}, err
	}
	return streamer.OrchestratorConfig{URL: o.URL, Alias: o.Alias, Interval: o.Interval, User: o.User, Password: pw}, nil
}

// Token resolves the admin token from its file or environment variable;
// "" when none is configured.
func (a AdminConfig) Token() (string, error) {
	if a.TokenFile == "" && a.TokenEnv == "" {
		return "", nil
	}
	tok, err := secret(a.TokenFile, a.TokenEnv, "admin token")
	if err != nil {
		return "", err
	}
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", fmt.Errorf("admin token: %s is empty", orEnv(a.TokenFile, a.TokenEnv))
	}
	return tok, nil
}

func orEnv(file, env string) string {
	if file != "" {
		return file
	}
	return "$" + env
}
