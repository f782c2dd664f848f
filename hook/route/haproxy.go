package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"time"
)

// HAProxyConfig drives HAProxy through its runtime API. The writer backend
// holds one server slot per possible writer (usually one); the reader
// backend, optional, one slot per possible reader. Slots are re-pointed
// with "set server addr", so the configuration needs as many reader slots
// as the largest reader set (spare ones "disabled").
type HAProxyConfig struct {
	// Socket is the stats socket at "level admin": an absolute unix socket
	// path, or host:port for an "ipv4@" TCP socket.
	Socket        string   `yaml:"socket"`
	WriterBackend string   `yaml:"writer_backend"`
	WriterServers []string `yaml:"writer_servers"` // empty: every server of the backend
	ReaderBackend string   `yaml:"reader_backend"` // empty: no reader routing
	ReaderServers []string `yaml:"reader_servers"` // empty: every server of the backend
	// StateFile is the global "server-state-file": Persist writes "show
	// servers state" there, which a restarted HAProxy reloads (with
	// "load-server-state-from-file global") for admin states and ports.
	StateFile string `yaml:"state_file"`
	// ConfigFile is HAProxy's configuration: Persist rewrites the address and
	// the "disabled" keyword of every managed server line, because HAProxy
	// does not restore IP addresses from the state file.
	ConfigFile string `yaml:"config_file"`
	// Timeout bounds each runtime API exchange (default 5s).
	Timeout time.Duration `yaml:"timeout"`
}

// HAProxy is the Router for HAProxy.
type HAProxy struct {
	cfg HAProxyConfig
	cli *haproxyCLI
	log *slog.Logger
}

var haName = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// NewHAProxy checks cfg and returns the router; it does not contact HAProxy.
func NewHAProxy(cfg HAProxyConfig, log *slog.Logger) (*HAProxy, error) {
	cli, err := newHAProxyCLI(cfg.Socket, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	names := append([]string{cfg.WriterBackend}, cfg.WriterServers...)
	names = append(names, cfg.ReaderServers...)
	if cfg.ReaderBackend != "" {
		names = append(names, cfg.ReaderBackend)
	} else if len(cfg.ReaderServers) > 0 {
		return nil, errors.New("haproxy: reader_servers given without reader_backend")
	}
	for _, n := range names {
		if !haName.MatchString(n) {
			return nil, fmt.Errorf("haproxy: invalid backend or server name %q", n)
		}
	}
	return &HAProxy{cfg: cfg, cli: cli, log: log.With("proxy", "haproxy")}, nil
}

// Close implements Router; HAProxy connections are per command.
func (h *HAProxy) Close() error { return nil }

// servers returns the named servers of backend (all when names is empty),
// in the order of names.
func (h *HAProxy) servers(ctx context.Context, backend string, names []string) ([]haServer, error) {
	all, _, err := h.cli.serversState(ctx, backend)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		if len(all) == 0 {
			return nil, fmt.Errorf("haproxy backend %s has no server", backend)
		}
		return all, nil
	}
	out := make([]haServer, 0, len(names))
	for _, n := range names {
		i := slices.IndexFunc(all, func(s haServer) bool { return s.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("haproxy backend %s has no server %s", backend, n)
		}
		out = append(out, all[i])
	}
	return out, nil
}

func (h *HAProxy) writers(ctx context.Context) ([]haServer, error) {
	return h.servers(ctx, h.cfg.WriterBackend, h.cfg.WriterServers)
}

func (h *HAProxy) readers(ctx context.Context) ([]haServer, error) {
	if h.cfg.ReaderBackend == "" {
		return nil, nil
	}
	return h.servers(ctx, h.cfg.ReaderBackend, h.cfg.ReaderServers)
}

// State implements Router.
func (h *HAProxy) State(ctx context.Context) (State, error) {
	ws, err := h.writers(ctx)
	if err != nil {
		return State{}, fmt.Errorf("reading haproxy writer state: %w", err)
	}
	rs, err := h.readers(ctx)
	if err != nil {
		return State{}, fmt.Errorf("reading haproxy reader state: %w", err)
	}
	var st State
	for _, s := range ws {
		st.Writers = append(st.Writers, s.backend())
	}
	for _, s := range rs {
		st.Readers = append(st.Readers, s.backend())
	}
	return st, nil
}

// FenceWriter implements Router: every writer slot goes to maintenance
// (no new connection) and its sessions are shut down.
func (h *HAProxy) FenceWriter(ctx context.Context) error {
	start := time.Now()
	ws, err := h.writers(ctx)
	if err != nil {
		return fmt.Errorf("fencing haproxy writer: %w", err)
	}
	var errs []error
	for _, s := range ws {
		errs = append(errs, h.takeOut(ctx, s))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fencing haproxy writer: %w", err)
	}
	if ws, err = h.writers(ctx); err != nil {
		return fmt.Errorf("checking haproxy writer fence: %w", err)
	}
	for _, s := range ws {
		if s.enabled() {
			return fmt.Errorf("checking haproxy writer fence: %s still %s", s.id(), s.status())
		}
	}
	h.log.Info("writer fenced", "cluster", FailoverFrom(ctx).Cluster, "servers", len(ws), "took", time.Since(start))
	return nil
}

// takeOut puts a server in maintenance, then kills its sessions.
func (h *HAProxy) takeOut(ctx context.Context, s haServer) error {
	if err := h.cli.setState(ctx, s.id(), "maint"); err != nil {
		return err
	}
	return h.cli.shutdownSessions(ctx, s.id())
}

// SetWriter implements Router: the slot already at addr (else the first)
// is pointed at addr and made ready, after every other slot is taken out.
func (h *HAProxy) SetWriter(ctx context.Context, addr string) error {
	start := time.Now()
	ap, err := ResolveAddr(ctx, addr)
	if err != nil {
		return fmt.Errorf("setting haproxy writer: %w", err)
	}
	ws, err := h.writers(ctx)
	if err != nil {
		return fmt.Errorf("setting haproxy writer to %s: %w", ap, err)
	}
	slot := slices.IndexFunc(ws, func(s haServer) bool { return s.Addr == ap })
	if slot < 0 {
		slot = 0
	}
	for i, s := range ws {
		if i != slot && !s.maint() {
			if err := h.takeOut(ctx, s); err != nil {
				return fmt.Errorf("setting haproxy writer to %s: taking out %s: %w", ap, s.id(), err)
			}
		}
	}
	if err := h.point(ctx, ws[slot], ap); err != nil {
		return fmt.Errorf("setting haproxy writer to %s: %w", ap, err)
	}
	h.log.Info("writer set", "cluster", FailoverFrom(ctx).Cluster, "host", ap.String(),
		"server", ws[slot].id(), "took", time.Since(start))
	return nil
}

// point sets a slot's address (when it differs) and makes it ready.
//
// HAProxy marks a server leaving maintenance UP at once, whatever its
// checks said, and keeps a slot's health across an address change. So a
// checked slot that changes address or leaves maintenance is then forced
// down: it comes up only once its own checks pass ("rise" of them), and
// Verify's "up" means the new server answered. An unchecked slot cannot be
// forced down (nothing would bring it back up): Preflight warns about it.
func (h *HAProxy) point(ctx context.Context, s haServer, ap netip.AddrPort) error {
	if s.Addr != ap {
		if err := h.cli.setAddr(ctx, s.id(), ap); err != nil {
			return err
		}
	}
	if err := h.cli.setState(ctx, s.id(), "ready"); err != nil {
		return err
	}
	if s.CheckState&haCheckConfigured != 0 && (s.Addr != ap || !s.enabled()) {
		return h.cli.expectEmpty(ctx, "set server "+s.id()+" health down")
	}
	return nil
}

// SetReaders implements Router. Slots already at a wanted address keep it;
// the other wanted addresses fill the remaining slots in order; slots left
// over go to maintenance (their sessions finish on their own).
func (h *HAProxy) SetReaders(ctx context.Context, addrs []string) error {
	if h.cfg.ReaderBackend == "" {
		return errors.New("setting haproxy readers: no reader_backend configured")
	}
	aps, err := resolveAll(ctx, addrs, false)
	if err != nil {
		return fmt.Errorf("setting haproxy readers: %w", err)
	}
	rs, err := h.readers(ctx)
	if err != nil {
		return fmt.Errorf("setting haproxy readers: %w", err)
	}
	if len(aps) > len(rs) {
		return fmt.Errorf("setting haproxy readers: %d addresses for %d server slots in backend %s",
			len(aps), len(rs), h.cfg.ReaderBackend)
	}
	plan := assignSlots(rs, aps)
	for i, s := range rs {
		if plan[i].IsValid() {
			err = h.point(ctx, s, plan[i])
		} else if !s.maint() {
			err = h.cli.setState(ctx, s.id(), "maint")
		}
		if err != nil {
			return fmt.Errorf("setting haproxy readers: %s: %w", s.id(), err)
		}
	}
	h.log.Info("readers set", "cluster", FailoverFrom(ctx).Cluster, "readers", len(aps))
	return nil
}

// assignSlots returns, per slot, the address it must serve (zero: none).
func assignSlots(slots []haServer, want []netip.AddrPort) []netip.AddrPort {
	plan := make([]netip.AddrPort, len(slots))
	var rest []netip.AddrPort
	for _, ap := range want {
		i := slices.IndexFunc(slots, func(s haServer) bool { return s.Addr == ap })
		if i >= 0 && !plan[i].IsValid() {
			plan[i] = ap
		} else {
			rest = append(rest, ap)
		}
	}
	for i := range plan {
		if len(rest) == 0 {
			break
		}
		if !plan[i].IsValid() {
			plan[i], rest = rest[0], rest[1:]
		}
	}
	return plan
}

// Verify implements Router.
func (h *HAProxy) Verify(ctx context.Context, want string) error {
	ap, err := ResolveAddr(ctx, want)
	if err != nil {
		return fmt.Errorf("verifying haproxy writer: %w", err)
	}
	st, err := h.State(ctx)
	if err != nil {
		return fmt.Errorf("verifying haproxy writer %s: %w", ap, err)
	}
	if err := verifyState(st, ap.String()); err != nil {
		return fmt.Errorf("verifying haproxy writer: %w", err)
	}
	return nil
}

// Preflight implements Router.
func (h *HAProxy) Preflight(ctx context.Context) ([]string, error) {
	ws, err := h.writers(ctx)
	if err != nil {
		return nil, fmt.Errorf("haproxy preflight: %w", err)
	}
	if _, err := h.readers(ctx); err != nil {
		return nil, fmt.Errorf("haproxy preflight: %w", err)
	}
	var warns []string
	enabled := 0
	for _, s := range ws {
		if s.CheckState&haCheckConfigured == 0 {
			warns = append(warns, fmt.Sprintf("haproxy writer %s has no health check: Verify cannot tell whether the new master is up", s.id()))
		}
		if s.enabled() {
			enabled++
		}
	}
	if enabled > 1 {
		warns = append(warns, fmt.Sprintf("haproxy backend %s has %d writers in rotation", h.cfg.WriterBackend, enabled))
	}
	if h.cfg.StateFile == "" && h.cfg.ConfigFile == "" {
		warns = append(warns, "haproxy: neither state_file nor config_file is set: a restart of haproxy reverts the switch")
	}
	for _, w := range warns {
		h.log.Warn(w)
	}
	return warns, nil
}
