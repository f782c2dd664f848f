package main

import (
	"fmt"
	"time"

	"github.com/recoup-dev/recoup/conflict"
)

// CompensateConfig is a cluster's compensation settings. The compensation
// user writes on the new master while it is fenced: see deploy/grants.sql.
type CompensateConfig struct {
	// User and its password (file or environment) connect to the new
	// master; they default to the cluster's streamer credentials.
	User         string `yaml:"user"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
	// Policy is report (default), source-wins or abort.
	Policy string `yaml:"policy"`
	// BatchTxns is the number of transactions whose rows are checked with
	// one SELECT per table (default 100).
	BatchTxns int `yaml:"batch_txns"`
	// Timeout bounds one `recoup compensate` run (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// ReportDir receives the JSON and HTML conflict reports
	// (default /var/lib/recoup/reports).
	ReportDir string `yaml:"report_dir"`
}

func (c *CompensateConfig) applyDefaults() {
	if c.Policy == "" {
		c.Policy = string(conflict.PolicyReport)
	}
	if c.BatchTxns == 0 {
		c.BatchTxns = 100
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.ReportDir == "" {
		c.ReportDir = "/var/lib/recoup/reports"
	}
}

func (c *CompensateConfig) validate(at string) []error {
	var errs []error
	if _, err := conflict.ParsePolicy(c.Policy); err != nil {
		errs = append(errs, fmt.Errorf("%s.compensate.policy: %w", at, err))
	}
	if c.PasswordFile != "" && c.PasswordEnv != "" {
		errs = append(errs, fmt.Errorf("%s.compensate: set at most one of password_file or password_env", at))
	}
	if c.User != "" && c.PasswordFile == "" && c.PasswordEnv == "" {
		errs = append(errs, fmt.Errorf("%s.compensate: user %q needs password_file or password_env", at, c.User))
	}
	if c.BatchTxns < 1 || c.BatchTxns > 10000 {
		errs = append(errs, fmt.Errorf("%s.compensate.batch_txns: %d: want 1..10000", at, c.BatchTxns))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%s.compensate.timeout: must be positive", at))
	}
	return errs
}

// CompensateCredentials returns the user and password that compensation
// uses on the new master.
func (cl *ClusterConfig) CompensateCredentials() (user, password string, err error) {
	c := cl.Compensate
	if c.User == "" {
		pw, err := cl.Password()
		return cl.User, pw, err
	}
	pw, err := secret(c.PasswordFile, c.PasswordEnv, "cluster "+cl.Name+" compensate password")
	return c.User, pw, err
}
