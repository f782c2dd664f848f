package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/recoup-dev/recoup/streamer"
)

// Admin API limits.
const (
	maxAdminRequest     = 64 << 10
	defaultSwitchWait   = time.Minute
	defaultDrainWait    = 30 * time.Second
	maxAdminWait        = 10 * time.Minute
	maxDrainHold        = 24 * time.Hour
	adminRealmChallenge = `Bearer realm="recoup"`
)

// adminAPI is the daemon's HTTP surface:
//
//	GET  /healthz, /metrics                     always open
//	GET  /status                                every cluster's streamer
//	GET  /v1/clusters/{name}/status             one cluster's streamer
//	POST /v1/clusters/{name}/master             follow a new master (JSON body, ?timeout=60s)
//	POST /v1/clusters/{name}/drain              settle capture from a failed master (?timeout=30s&hold=10m&master=host:port)
//
// With a token configured, /status and every /v1 route need
// "Authorization: Bearer <token>" (compared in constant time). It listens
// on loopback unless the config names a token (see Config.Validate).
// Errors are JSON: {"error": "..."}.
type adminAPI struct {
	streamers []*streamer.Streamer
	byName    map[string]*streamer.Streamer
	token     [sha256.Size]byte
	hasToken  bool
	log       *slog.Logger
}

func adminHandler(reg *prometheus.Registry, streamers []*streamer.Streamer, token string, log *slog.Logger) http.Handler {
	return adminHandlerWithHealth(reg, streamers, token, newClusterHealth(), log)
}

// adminHandlerWithHealth is adminHandler with the daemon's cluster health
// behind /healthz.
func adminHandlerWithHealth(reg *prometheus.Registry, streamers []*streamer.Streamer, token string, health http.Handler, log *slog.Logger) http.Handler {
	a := &adminAPI{streamers: streamers, byName: map[string]*streamer.Streamer{}, log: log}
	for _, s := range streamers {
		a.byName[s.Status().Cluster] = s
	}
	if token != "" {
		a.token, a.hasToken = sha256.Sum256([]byte(token)), true
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /status", a.auth(http.HandlerFunc(a.statusAll)))
	mux.Handle("GET /v1/clusters/{name}/status", a.auth(a.cluster(a.status)))
	mux.Handle("POST /v1/clusters/{name}/master", a.auth(a.cluster(a.switchMaster)))
	mux.Handle("POST /v1/clusters/{name}/drain", a.auth(a.cluster(a.drain)))
	return mux
}

// auth requires the bearer token, when one is configured.
func (a *adminAPI) auth(h http.Handler) http.Handler {
	if !a.hasToken {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], a.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", adminRealmChallenge)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer <admin token>)")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// cluster resolves {name} to its streamer, or answers 404.
func (a *adminAPI) cluster(h func(http.ResponseWriter, *http.Request, *streamer.Streamer)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		s, ok := a.byName[name]
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown cluster %q: not in this daemon's config", name))
			return
		}
		h(w, r, s)
	})
}

// statusJSON is a streamer's state on the admin API.
type statusJSON struct {
	Cluster       string     `json:"cluster"`
	Master        string     `json:"master"`
	Connected     bool       `json:"connected"`
	Running       bool       `json:"running"`
	Position      string     `json:"position"`
	LastGTID      string     `json:"last_gtid,omitempty"`
	LastCommit    *time.Time `json:"last_commit,omitempty"`
	LagSeconds    float64    `json:"lag_seconds"`
	Reconnects    uint64     `json:"reconnects"`
	LastError     string     `json:"last_error,omitempty"`
	Switched      bool       `json:"switched"`
	PendingMaster string     `json:"pending_master,omitempty"`
	HeldUntil     *time.Time `json:"held_until,omitempty"`
}

func statusOfStreamer(s *streamer.Streamer) statusJSON {
	st, f := s.Status(), s.Following()
	out := statusJSON{Cluster: st.Cluster, Master: st.Master, Connected: st.Connected, Running: f.Running,
		Position: st.Position.String(), LagSeconds: st.Lag.Seconds(), Reconnects: st.Reconnects,
		LastError: st.LastError, Switched: f.Switched, PendingMaster: f.Pending}
	if !st.LastGTID.IsZero() {
		out.LastGTID = st.LastGTID.String()
	}
	if !st.LastCommit.IsZero() {
		out.LastCommit = &st.LastCommit
	}
	if !f.HeldUntil.IsZero() {
		out.HeldUntil = &f.HeldUntil
	}
	return out
}

func (a *adminAPI) statusAll(w http.ResponseWriter, _ *http.Request) {
	out := make([]statusJSON, 0, len(a.streamers))
	for _, s := range a.streamers {
		out = append(out, statusOfStreamer(s))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *adminAPI) status(w http.ResponseWriter, _ *http.Request, s *streamer.Streamer) {
	writeJSON(w, http.StatusOK, statusOfStreamer(s))
}

// switchRequest is the body of POST /v1/clusters/{name}/master.
type switchRequest struct {
	Master      string `json:"master"`
	OldMaster   string `json:"old_master"`
	RecoveryUID string `json:"recovery_uid"`
}

// switchResponse answers a switch made (or already made).
type switchResponse struct {
	Cluster            string `json:"cluster"`
	Master             string `json:"master"`
	PreviousMaster     string `json:"previous_master"`
	Already            bool   `json:"already"`
	ConnectedAtFailure bool   `json:"connected_at_failure"`
	Captured           string `json:"captured"`
	ResumedAt          string `json:"resumed_at"`
	RecoveryUID        string `json:"recovery_uid,omitempty"`
}

// switchMaster validates the request, asks the streamer to follow the new
// master, and answers once it is connected and the switch is in the log.
func (a *adminAPI) switchMaster(w http.ResponseWriter, r *http.Request, s *streamer.Streamer) {
	var req switchRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminRequest)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `request body: want JSON {"master": "host:port", "old_master": "host:port", `+
			`"recovery_uid": "..."}: `+err.Error())
		return
	}
	msg := checkAddr("master", req.Master, true)
	if msg == "" {
		msg = checkAddr("old_master", req.OldMaster, false)
	}
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	wait, err := durationParam(r, "timeout", defaultSwitchWait, maxAdminWait)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	cluster := s.Status().Cluster
	a.log.Info("master switch requested", "cluster", cluster, "host", req.Master, "old", req.OldMaster,
		"recovery_uid", req.RecoveryUID)
	res, err := s.SwitchMaster(ctx, streamer.SwitchRequest{Master: req.Master, OldMaster: req.OldMaster,
		Reason: strings.TrimSpace("admin API " + req.RecoveryUID)})
	if err != nil {
		a.log.Warn("master switch failed", "cluster", cluster, "host", req.Master, "error", err.Error())
		writeJSON(w, errorStatus(err), map[string]any{"error": err.Error(), "status": statusOfStreamer(s)})
		return
	}
	writeJSON(w, http.StatusOK, switchResponse{Cluster: res.Cluster, Master: res.To, PreviousMaster: res.From,
		Already: res.Already, ConnectedAtFailure: res.Connected, Captured: res.Captured.String(),
		ResumedAt: res.Resumed.String(), RecoveryUID: req.RecoveryUID})
}

// drainResponse describes capture from the failed master.
type drainResponse struct {
	Cluster            string `json:"cluster"`
	Master             string `json:"master"`
	State              string `json:"state"` // complete or unknown-after
	ConnectedAtFailure bool   `json:"connected_at_failure"`
	LastGTID           string `json:"last_gtid,omitempty"`
	Position           string `json:"position"`
	Summary            string `json:"summary"`
}

// drain waits until capture holds everything it can get from the master
// the streamer reads, which the caller says failed, and records it failed.
func (a *adminAPI) drain(w http.ResponseWriter, r *http.Request, s *streamer.Streamer) {
	wait, err := durationParam(r, "timeout", defaultDrainWait, maxAdminWait)
	if err == nil {
		var hold time.Duration
		if hold, err = durationParam(r, "hold", streamer.DefaultDrainHold, maxDrainHold); err == nil {
			a.drainWith(w, r, s, wait, hold)
			return
		}
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

func (a *adminAPI) drainWith(w http.ResponseWriter, r *http.Request, s *streamer.Streamer, wait, hold time.Duration) {
	old := r.URL.Query().Get("master")
	if msg := checkAddr("master", old, false); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	res, err := s.Drain(ctx, streamer.DrainRequest{OldMaster: old, Hold: hold})
	if err != nil {
		writeJSON(w, errorStatus(err), map[string]any{"error": err.Error(), "status": statusOfStreamer(s)})
		return
	}
	out := drainResponse{Cluster: res.Cluster, Master: res.Master, State: res.State, ConnectedAtFailure: res.Connected,
		Position: res.Position.String(), Summary: res.Summary}
	if !res.LastGTID.IsZero() {
		out.LastGTID = res.LastGTID.String()
	}
	a.log.Info("capture drained", "cluster", res.Cluster, "host", res.Master, "state", res.State, "gtid", out.LastGTID)
	writeJSON(w, http.StatusOK, out)
}

// checkAddr returns why v is not a valid address for field, "" if it is.
func checkAddr(field, v string, required bool) string {
	switch {
	case v == "" && required:
		return field + ": required (host:port of the server)"
	case v == "":
		return ""
	}
	if err := validateHostPort(v); err != nil {
		return field + ": " + err.Error()
	}
	return ""
}

// durationParam reads a Go duration query parameter in (0, max].
func durationParam(r *http.Request, name string, def, max time.Duration) (time.Duration, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > max {
		return 0, fmt.Errorf("%s: %q: want a duration like 30s, at most %s", name, v, max)
	}
	return d, nil
}

// errorStatus maps a switch or drain error to an HTTP status.
func errorStatus(err error) int {
	var pe *streamer.PreflightError
	switch {
	case errors.Is(err, streamer.ErrBadAddress):
		return http.StatusBadRequest
	case errors.As(err, &pe), errors.Is(err, streamer.ErrOtherMaster):
		return http.StatusConflict
	case errors.Is(err, streamer.ErrNotRunning):
		return http.StatusServiceUnavailable
	case errors.Is(err, streamer.ErrStillConnected), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
