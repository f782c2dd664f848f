package route

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Actions passed to a command (RECOUP_ACTION) or webhook ("action").
const (
	ActionPreflight  = "preflight"
	ActionState      = "state"
	ActionFence      = "fence"
	ActionSetWriter  = "set-writer"
	ActionSetReaders = "set-readers"
	ActionPersist    = "persist"
	ActionVerify     = "verify"
)

// Event is what a command or webhook is asked to do. For a command it
// becomes environment variables (RECOUP_ACTION, RECOUP_CLUSTER,
// RECOUP_OLD_MASTER_HOST/PORT, RECOUP_NEW_MASTER_HOST/PORT, RECOUP_READERS
// as comma-separated host:port); for a webhook, the JSON body.
type Event struct {
	Action    string    `json:"action"`
	Cluster   string    `json:"cluster,omitempty"`
	OldMaster *Endpoint `json:"old_master,omitempty"`
	NewMaster *Endpoint `json:"new_master,omitempty"` // set-writer: the new master; verify: the expected one
	Readers   []string  `json:"readers,omitempty"`    // set-readers
}

// Endpoint is a host and port.
type Endpoint struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

func endpointOf(s string) *Endpoint {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return nil
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return nil
	}
	return &Endpoint{Host: host, Port: n}
}

func (e Event) env() []string {
	env := []string{"RECOUP_ACTION=" + e.Action, "RECOUP_CLUSTER=" + e.Cluster}
	for _, x := range []struct {
		prefix string
		ep     *Endpoint
	}{{"RECOUP_OLD_MASTER_", e.OldMaster}, {"RECOUP_NEW_MASTER_", e.NewMaster}} {
		if x.ep != nil {
			env = append(env, x.prefix+"HOST="+x.ep.Host, x.prefix+"PORT="+strconv.Itoa(x.ep.Port))
		}
	}
	if e.Action == ActionSetReaders {
		env = append(env, "RECOUP_READERS="+strings.Join(e.Readers, ","))
	}
	return env
}

// errDeclined is a transport's "no" (command exit status 1, HTTP 409):
// Verify turns it into ErrNotVerified, other actions into a failure.
var errDeclined = errors.New("declined")

// transport delivers an Event and returns the answer's body.
type transport interface {
	call(ctx context.Context, ev Event) ([]byte, error)
	String() string
}

// External is the Router for a command or a webhook.
type External struct {
	t   transport
	log *slog.Logger
}

func (x *External) event(ctx context.Context, action string) Event {
	f := FailoverFrom(ctx)
	return Event{Action: action, Cluster: f.Cluster, OldMaster: endpointOf(f.OldMaster), NewMaster: endpointOf(f.NewMaster)}
}

func (x *External) do(ctx context.Context, ev Event) ([]byte, error) {
	out, err := x.t.call(ctx, ev)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", x.t, ev.Action, err)
	}
	x.log.Info("proxy action done", "action", ev.Action, "cluster", ev.Cluster)
	return out, nil
}

// Close implements Router.
func (x *External) Close() error { return nil }

// Preflight implements Router: the answer is either {"warnings": [...]}
// or plain text, one warning per non-empty line.
func (x *External) Preflight(ctx context.Context) ([]string, error) {
	out, err := x.do(ctx, x.event(ctx, ActionPreflight))
	if err != nil {
		return nil, err
	}
	warns, err := parseWarnings(out)
	if err != nil {
		return nil, fmt.Errorf("%s preflight: %w", x.t, err)
	}
	for _, w := range warns {
		x.log.Warn(w)
	}
	return warns, nil
}

func parseWarnings(out []byte) ([]string, error) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		return nil, nil
	}
	if out[0] == '{' {
		var doc struct {
			Warnings []string `json:"warnings"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			return nil, fmt.Errorf("decoding warnings: %w", err)
		}
		return doc.Warnings, nil
	}
	var warns []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			warns = append(warns, l)
		}
	}
	return warns, nil
}

// State implements Router: the answer must be the JSON form of State,
// {"writers": [{"addr": "ip:port", "status": "...", "enabled": true,
// "up": true}], "readers": [...]}.
func (x *External) State(ctx context.Context) (State, error) {
	out, err := x.do(ctx, x.event(ctx, ActionState))
	if err != nil {
		return State{}, err
	}
	st, err := parseStateDoc(out)
	if err != nil {
		return State{}, fmt.Errorf("%s state: %w", x.t, err)
	}
	return st, nil
}

type backendDoc struct {
	Addr    string `json:"addr"`
	Status  string `json:"status"`
	Enabled bool   `json:"enabled"`
	Up      bool   `json:"up"`
}

// parseStateDoc decodes an external State; every addr must be ip:port.
func parseStateDoc(b []byte) (State, error) {
	var doc struct {
		Writers []backendDoc `json:"writers"`
		Readers []backendDoc `json:"readers"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return State{}, fmt.Errorf("decoding state: %w", err)
	}
	var st State
	for _, group := range []struct {
		docs []backendDoc
		dst  *[]Backend
	}{{doc.Writers, &st.Writers}, {doc.Readers, &st.Readers}} {
		for _, d := range group.docs {
			ap, err := netip.ParseAddrPort(d.Addr)
			if err != nil || ap.Port() == 0 {
				return State{}, fmt.Errorf("decoding state: addr %q is not ip:port", d.Addr)
			}
			*group.dst = append(*group.dst, Backend{Addr: normalizeReported(d.Addr), Status: d.Status, Enabled: d.Enabled, Up: d.Up})
		}
	}
	return st, nil
}

// FenceWriter implements Router. Only the external program can check
// that the fence holds: success is its word for it.
func (x *External) FenceWriter(ctx context.Context) error {
	_, err := x.do(ctx, x.event(ctx, ActionFence))
	return err
}

// SetWriter implements Router; the new master is passed as resolved IP.
func (x *External) SetWriter(ctx context.Context, addr string) error {
	ap, err := ResolveAddr(ctx, addr)
	if err != nil {
		return fmt.Errorf("%s set-writer: %w", x.t, err)
	}
	ev := x.event(ctx, ActionSetWriter)
	ev.NewMaster = &Endpoint{Host: ap.Addr().String(), Port: int(ap.Port())}
	_, err = x.do(ctx, ev)
	return err
}

// SetReaders implements Router.
func (x *External) SetReaders(ctx context.Context, addrs []string) error {
	aps, err := resolveAll(ctx, addrs, false)
	if err != nil {
		return fmt.Errorf("%s set-readers: %w", x.t, err)
	}
	ev := x.event(ctx, ActionSetReaders)
	ev.Readers = make([]string, 0, len(aps))
	for _, ap := range aps {
		ev.Readers = append(ev.Readers, ap.String())
	}
	_, err = x.do(ctx, ev)
	return err
}

// Persist implements Router.
func (x *External) Persist(ctx context.Context) error {
	_, err := x.do(ctx, x.event(ctx, ActionPersist))
	return err
}

// Verify implements Router: success means verified; the transport's "no"
// (command exit status 1, HTTP 409 Conflict) is ErrNotVerified.
func (x *External) Verify(ctx context.Context, want string) error {
	ap, err := ResolveAddr(ctx, want)
	if err != nil {
		return fmt.Errorf("%s verify: %w", x.t, err)
	}
	ev := x.event(ctx, ActionVerify)
	ev.NewMaster = &Endpoint{Host: ap.Addr().String(), Port: int(ap.Port())}
	_, err = x.do(ctx, ev)
	if errors.Is(err, errDeclined) {
		return fmt.Errorf("%w: %w", ErrNotVerified, err)
	}
	return err
}
