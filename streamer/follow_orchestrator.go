package streamer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of OrchestratorConfig.
const (
	DefaultOrchestratorInterval = 5 * time.Second
	DefaultSwitchTimeout        = time.Minute
)

// OrchestratorConfig is where and how often to ask Orchestrator for a
// cluster's master.
type OrchestratorConfig struct {
	// URL is Orchestrator's base URL (with its URL prefix, if any), e.g.
	// http://orchestrator:3000.
	URL string
	// Alias is the cluster alias (or any cluster hint Orchestrator takes);
	// default the streamer's cluster name.
	Alias string
	// Interval between polls; default DefaultOrchestratorInterval.
	Interval time.Duration
	// User and Password: HTTP basic auth (Orchestrator's HTTPAuthUser and
	// HTTPAuthPassword); none when User is empty. Never logged.
	User, Password string
	// SwitchTimeout bounds one switch; default DefaultSwitchTimeout.
	SwitchTimeout time.Duration
	// Client defaults to an http.Client with a 10s timeout.
	Client *http.Client
}

// OrchestratorPoller makes a streamer follow the master Orchestrator
// reports: GET {URL}/api/master/{Alias} every Interval, and SwitchMaster
// to an acceptable master (OrchestratorInstance.Master) that differs from
// the streamer's.
type OrchestratorPoller struct {
	cfg     OrchestratorConfig
	s       *Streamer
	log     *slog.Logger
	lastErr string
}

// NewOrchestratorPoller checks cfg and applies its defaults.
func NewOrchestratorPoller(s *Streamer, cfg OrchestratorConfig, log *slog.Logger) (*OrchestratorPoller, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("orchestrator URL %q: want http(s)://host[:port][/prefix]", cfg.URL)
	}
	if cfg.Alias == "" {
		cfg.Alias = s.cfg.Cluster
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultOrchestratorInterval
	}
	if cfg.SwitchTimeout <= 0 {
		cfg.SwitchTimeout = DefaultSwitchTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if log == nil {
		log = slog.Default()
	}
	return &OrchestratorPoller{cfg: cfg, s: s, log: log}, nil
}

// Run polls every Interval, the first time one Interval after it starts
// (the streamer's Run starts meanwhile), until ctx ends; failures are
// logged (once until they change) and retried at the next poll.
func (p *OrchestratorPoller) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := p.Poll(ctx)
		switch {
		case err == nil:
			p.lastErr = ""
		case ctx.Err() != nil:
			return nil
		case err.Error() != p.lastErr:
			p.lastErr = err.Error()
			p.log.Warn("following Orchestrator's master", "cluster", p.s.cfg.Cluster, "error", err.Error())
		}
	}
}

// Poll asks Orchestrator once and switches the streamer when Orchestrator
// reports an acceptable master that is not the streamer's.
func (p *OrchestratorPoller) Poll(ctx context.Context) error {
	inst, err := FetchOrchestratorMaster(ctx, p.cfg.Client, p.cfg.URL, p.cfg.Alias, p.cfg.User, p.cfg.Password)
	if err != nil {
		return err
	}
	addr, err := inst.Master()
	if err != nil {
		return err
	}
	if addr == p.s.currentMaster() {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, p.cfg.SwitchTimeout)
	defer cancel()
	_, err = p.s.SwitchMaster(sctx, SwitchRequest{Master: addr, Reason: "orchestrator " + p.cfg.URL})
	return err
}

// InstanceKey is Orchestrator's name of a server.
type InstanceKey struct {
	Hostname string
	Port     int
}

// OrchestratorInstance holds the fields of Orchestrator's instance JSON
// (inst.Instance) that following the master needs.
type OrchestratorInstance struct {
	Key              InstanceKey
	MasterKey        InstanceKey // the server it replicates from; empty Hostname at the top
	ReadOnly         bool
	ReplicationDepth uint
	IsCoMaster       bool
	IsLastCheckValid bool // Orchestrator reached it at its last check
	ClusterName      string
}

// Master is the address of an instance Orchestrator reports as a
// cluster's master, when it is acceptable as the streamer's master:
// Orchestrator reached it at its last check, and it is writable (ReadOnly
// false), or it is fenced at depth 0: read-only, replication depth 0, not
// a co-master and with no master of its own (a promoted master that
// recoup's hook keeps read-only until compensation is done). A read-only
// server that has a master is refused: Orchestrator returns one when the
// cluster has no writable master. The switch then preflights the server.
func (i OrchestratorInstance) Master() (string, error) {
	if i.Key.Hostname == "" || i.Key.Port < 1 || i.Key.Port > 65535 {
		return "", fmt.Errorf("orchestrator reports a master without a valid address (%q port %d)", i.Key.Hostname, i.Key.Port)
	}
	addr := net.JoinHostPort(i.Key.Hostname, strconv.Itoa(i.Key.Port))
	hasMaster := i.MasterKey.Hostname != "" && i.MasterKey.Hostname != "_" && i.MasterKey.Port != 0
	switch {
	case !i.IsLastCheckValid:
		return "", fmt.Errorf("orchestrator's master %s failed its last check: not followed", addr)
	case !i.ReadOnly:
		return addr, nil
	case i.ReplicationDepth == 0 && !i.IsCoMaster && !hasMaster:
		return addr, nil
	}
	return "", fmt.Errorf("orchestrator's master %s is read-only and replicates from %s:%d (depth %d): not followed",
		addr, i.MasterKey.Hostname, i.MasterKey.Port, i.ReplicationDepth)
}

// FetchOrchestratorMaster is GET {base}/api/master/{alias}: the cluster's
// master instance. Orchestrator answers errors with HTTP 500 and
// {"Code":"ERROR","Message":...}.
func FetchOrchestratorMaster(ctx context.Context, c *http.Client, base, alias, user, password string) (OrchestratorInstance, error) {
	u := strings.TrimRight(base, "/") + "/api/master/" + url.PathEscape(alias)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return OrchestratorInstance{}, fmt.Errorf("orchestrator request: %w", err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := c.Do(req)
	if err != nil {
		return OrchestratorInstance{}, fmt.Errorf("asking orchestrator for the master of %s: %w", alias, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return OrchestratorInstance{}, fmt.Errorf("reading orchestrator's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Message string }
		if json.Unmarshal(body, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(body[:min(len(body), 200)]))
		}
		return OrchestratorInstance{}, fmt.Errorf("orchestrator: master of %s: %s: %s", alias, resp.Status, e.Message)
	}
	var inst OrchestratorInstance
	if err := json.Unmarshal(body, &inst); err != nil {
		return OrchestratorInstance{}, fmt.Errorf("orchestrator: master of %s: %w", alias, err)
	}
	if inst.Key.Hostname == "" {
		return inst, errors.New("orchestrator: master of " + alias + ": the answer has no Key.Hostname")
	}
	return inst, nil
}
