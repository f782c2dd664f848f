package route

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// WebhookConfig POSTs the Event as JSON to URL for every Router method.
// A 2xx status is success; for verify, 409 Conflict means "not verified".
// The response body (up to 64 KiB) is the answer. Redirects are not
// followed. With a token, the request carries "Authorization: Bearer".
type WebhookConfig struct {
	URL       string        `yaml:"url"`
	TokenFile string        `yaml:"token_file"`
	TokenEnv  string        `yaml:"token_env"`
	Timeout   time.Duration `yaml:"timeout"` // per request, default 10s
}

type webhookTransport struct {
	url    string
	token  string
	client *http.Client
}

// NewWebhook returns the webhook Router; token may be empty.
func NewWebhook(cfg WebhookConfig, token string, log *slog.Logger) (*External, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook: url %q must be an absolute http(s) URL", cfg.URL)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	t := &webhookTransport{url: cfg.URL, token: token, client: &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	return &External{t: t, log: log.With("proxy", "webhook")}, nil
}

func (w *webhookTransport) String() string {
	u, err := url.Parse(w.url)
	if err != nil {
		return "proxy webhook"
	}
	u.User, u.RawQuery = nil, "" // may carry credentials
	return "proxy webhook " + u.String()
}

func (w *webhookTransport) call(ctx context.Context, ev Event) ([]byte, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encoding event: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		var ue *url.Error // its text holds the URL, which may hold credentials
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("POST: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxOutput+1))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	if len(out) > maxOutput {
		return nil, fmt.Errorf("response exceeds %d bytes", maxOutput)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return out, nil
	case resp.StatusCode == http.StatusConflict:
		return nil, fmt.Errorf("%w: HTTP %s: %s", errDeclined, resp.Status, firstLine(string(out)))
	}
	return nil, fmt.Errorf("HTTP %s: %s", resp.Status, firstLine(string(out)))
}
