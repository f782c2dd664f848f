package main

import (
	"fmt"
	"net/url"
	"time"

	"github.com/recoup-dev/recoup/hook"
	"github.com/recoup-dev/recoup/hook/route"
)

// HookConfig is the `hook:` section: how `recoup hook` drives a failover.
//
//	hook:
//	  deadline: 30s              # hook start -> writes open
//	  on_deadline: stay-fenced   # or open-writes
//	  grace: 5s                  # after the deadline: open writes (open-writes), save the record
//	  lock_timeout: 30s          # wait for another hook of the same cluster (default: deadline)
//	  old_master_timeout: 2s     # best-effort fence of the old master
//	  capture_wait: 5s           # wait for the capture log to hold the old master's tail
//	  report_dir: /var/lib/recoup/reports   # default: the cluster's compensate.report_dir
//	  state_dir: /var/lib/recoup/hook       # run records (reruns); default: <report_dir>/hook-runs
//	  admin_url: http://127.0.0.1:7878      # the capture daemon; empty: not told
//	  admin_token_file: /etc/recoup/admin.token   # or admin_token_env
//	  proxy: {kind: haproxy, haproxy: {...}}      # route.Config
//	  probe: {writer_addr: 127.0.0.1:3306}        # the proxy's writer address
//	  clusters:                  # per-cluster overrides of proxy, probe and set_readers
//	    shop: {proxy: {...}, probe: {...}}
type HookConfig struct {
	Deadline         time.Duration `yaml:"deadline"`
	OnDeadline       string        `yaml:"on_deadline"`
	Grace            time.Duration `yaml:"grace"`
	LockTimeout      time.Duration `yaml:"lock_timeout"`
	OldMasterTimeout time.Duration `yaml:"old_master_timeout"`
	CaptureWait      time.Duration `yaml:"capture_wait"`
	ReportDir        string        `yaml:"report_dir"`
	StateDir         string        `yaml:"state_dir"`
	AdminURL         string        `yaml:"admin_url"`
	AdminTokenFile   string        `yaml:"admin_token_file"`
	AdminTokenEnv    string        `yaml:"admin_token_env"`
	HookRouting      `yaml:",inline"`
	Clusters         map[string]HookRouting `yaml:"clusters"`
}

// HookRouting is how writes reach a cluster's master: the proxy to switch
// and the address to probe through it.
type HookRouting struct {
	Proxy route.Config `yaml:"proxy"`
	Probe ProbeConfig  `yaml:"probe"`
	// SetReaders routes the remaining replicas as readers (default true;
	// false for a proxy without a reader pool).
	SetReaders *bool `yaml:"set_readers"`
}

// ProbeConfig is the write-path probe: a connection to WriterAddr must
// land on the new master (checked by @@server_id, @@hostname, @@port).
type ProbeConfig struct {
	WriterAddr string        `yaml:"writer_addr"`
	Interval   time.Duration `yaml:"interval"`
}

func (h *HookConfig) applyDefaults() {
	if h.Deadline == 0 {
		h.Deadline = hook.DefaultDeadline
	}
	if h.OnDeadline == "" {
		h.OnDeadline = string(hook.StayFenced)
	}
	if h.Grace == 0 {
		h.Grace = hook.DefaultGrace
	}
	if h.LockTimeout == 0 {
		h.LockTimeout = h.Deadline
	}
	if h.OldMasterTimeout == 0 {
		h.OldMasterTimeout = hook.DefaultOldMasterTimeout
	}
	if h.CaptureWait == 0 {
		h.CaptureWait = hook.DefaultCaptureWait
	}
}

func (h *HookConfig) validate(clusters map[string]bool) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch hook.DeadlinePolicy(h.OnDeadline) {
	case hook.StayFenced, hook.OpenWrites:
	default:
		bad("hook.on_deadline: %q: want stay-fenced or open-writes", h.OnDeadline)
	}
	for name, d := range map[string]time.Duration{"deadline": h.Deadline, "grace": h.Grace, "lock_timeout": h.LockTimeout,
		"old_master_timeout": h.OldMasterTimeout, "capture_wait": h.CaptureWait} {
		if d <= 0 || d > time.Hour {
			bad("hook.%s: %s: want a positive duration up to 1h", name, d)
		}
	}
	if h.AdminURL != "" {
		if u, err := url.Parse(h.AdminURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("hook.admin_url: %q: want http(s)://host:port", h.AdminURL)
		}
	}
	if h.AdminTokenFile != "" && h.AdminTokenEnv != "" {
		bad("hook: set at most one of admin_token_file or admin_token_env")
	}
	errs = append(errs, h.HookRouting.validate("hook")...)
	for name, r := range h.Clusters {
		if !clusters[name] {
			bad("hook.clusters.%s: no such cluster", name)
		}
		errs = append(errs, r.validate("hook.clusters."+name)...)
	}
	return errs
}

func (r HookRouting) validate(at string) []error {
	var errs []error
	if err := r.Proxy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s.%w", at, err))
	}
	if r.Probe.WriterAddr != "" {
		if err := validateHostPort(r.Probe.WriterAddr); err != nil {
			errs = append(errs, fmt.Errorf("%s.probe.writer_addr: %w", at, err))
		}
	}
	if r.Probe.Interval < 0 {
		errs = append(errs, fmt.Errorf("%s.probe.interval: must be positive", at))
	}
	return errs
}

// Routing returns the cluster's routing: its override if any, else the
// section's default.
func (h *HookConfig) Routing(cluster string) HookRouting {
	if r, ok := h.Clusters[cluster]; ok {
		return r
	}
	return h.HookRouting
}

// Budget is the hook's time budget.
func (h *HookConfig) Budget() hook.Budget {
	return hook.Budget{Deadline: h.Deadline, OnDeadline: hook.DeadlinePolicy(h.OnDeadline), Grace: h.Grace,
		LockTimeout: h.LockTimeout, OldMasterTimeout: h.OldMasterTimeout}
}

// AdminToken resolves the admin token ("" when none is configured).
func (h *HookConfig) AdminToken() (string, error) {
	return secret(h.AdminTokenFile, h.AdminTokenEnv, "hook admin token")
}
