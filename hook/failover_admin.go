package hook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Admin is a client of the capture daemon's admin API (`recoup stream`).
// The token, when set, goes in an Authorization: Bearer header; it is
// never logged.
type Admin struct {
	// URL is the daemon's base URL, e.g. http://127.0.0.1:7878.
	URL   string
	Token string
	// Client defaults to an http.Client without redirects; every request
	// runs under the caller's ctx.
	Client *http.Client
}

// maxAdminBody bounds what is read of an admin answer.
const maxAdminBody = 64 << 10

// SwitchAnswer is the daemon's answer to a master switch.
type SwitchAnswer struct {
	Master             string `json:"master"`
	PreviousMaster     string `json:"previous_master"`
	Already            bool   `json:"already"`
	ConnectedAtFailure bool   `json:"connected_at_failure"`
	Captured           string `json:"captured"`
	ResumedAt          string `json:"resumed_at"`
}

// SwitchMaster asks the daemon to make the cluster's streamer follow
// newMaster: POST /v1/clusters/{cluster}/master?timeout=T with
// {"master", "old_master", "recovery_uid"}. The daemon records the old
// master failed and the switch in the capture log, and answers once the
// new master accepted the captured position (or after T).
func (a *Admin) SwitchMaster(ctx context.Context, cluster, oldMaster, newMaster, uid string, wait time.Duration) (SwitchAnswer, error) {
	var ans SwitchAnswer
	body, err := json.Marshal(map[string]string{"master": newMaster, "old_master": oldMaster, "recovery_uid": uid})
	if err != nil {
		return ans, err
	}
	q := url.Values{"timeout": {wait.String()}}
	b, err := a.do(ctx, http.MethodPost, "/v1/clusters/"+url.PathEscape(cluster)+"/master?"+q.Encode(), body)
	if err != nil {
		return ans, err
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return ans, fmt.Errorf("master switch answer: %w", err)
	}
	return ans, nil
}

// DrainAnswer is the daemon's answer to a drain: how complete capture
// from the failed master is.
type DrainAnswer struct {
	Master             string `json:"master"`
	State              string `json:"state"` // complete or unknown-after
	ConnectedAtFailure bool   `json:"connected_at_failure"`
	LastGTID           string `json:"last_gtid"`
	Position           string `json:"position"`
	Summary            string `json:"summary"`
}

// Drain asks the daemon to settle capture from oldMaster, which failed:
// POST /v1/clusters/{cluster}/drain?master=M&timeout=T. The streamer
// stops reconnecting to it and records it failed once its last records
// are durable.
func (a *Admin) Drain(ctx context.Context, cluster, oldMaster string, wait time.Duration) (DrainAnswer, error) {
	var ans DrainAnswer
	q := url.Values{"master": {oldMaster}, "timeout": {wait.String()}}
	b, err := a.do(ctx, http.MethodPost, "/v1/clusters/"+url.PathEscape(cluster)+"/drain?"+q.Encode(), nil)
	if err != nil {
		return ans, err
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return ans, fmt.Errorf("drain answer: %w", err)
	}
	return ans, nil
}

func (a *Admin) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	u, err := url.Parse(strings.TrimRight(a.URL, "/") + path)
	if err == nil && u.Scheme != "http" && u.Scheme != "https" {
		err = fmt.Errorf("scheme %q", u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("admin URL: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("admin request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	c := a.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, u.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		return b, fmt.Errorf("%s %s: %s: %s", method, u.Path, resp.Status, strings.TrimSpace(string(b[:min(len(b), 300)])))
	}
	return b, nil
}
