package route

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"
)

// DBProxyConfig drives Meituan DBProxy (or Qihoo Atlas, its ancestor)
// through its admin interface, and optionally ships a rendered
// configuration file to the proxy hosts (File).
type DBProxyConfig struct {
	// Admin is the admin-address (host:port) of the DBProxy instance.
	Admin        string `yaml:"admin"`
	User         string `yaml:"user"` // admin-username
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
	// OfflineTimeout is the TIMEOUT of SET OFFLINE and REMOVE BACKEND: how
	// long DBProxy lets transactions on a backend finish before it closes
	// them. Whole seconds; default 1s (a fence must not wait long).
	OfflineTimeout time.Duration `yaml:"offline_timeout"`
	// ReaderTag and ReaderWeight are appended to ADD SLAVE ($tag@weight)
	// when set.
	ReaderTag    string `yaml:"reader_tag"`
	ReaderWeight int    `yaml:"reader_weight"`
	// Timeout bounds each admin statement (default 5s); PollInterval is
	// the pause between reads while DBProxy changes a backend's state
	// (default 100ms). The caller's ctx bounds the whole operation.
	Timeout      time.Duration      `yaml:"timeout"`
	PollInterval time.Duration      `yaml:"poll_interval"`
	File         *DBProxyFileConfig `yaml:"file"`
}

// DBProxy is the Router for DBProxy.
type DBProxy struct {
	cfg     DBProxyConfig
	admin   *sqlAdmin
	timeout int // OfflineTimeout in seconds
	log     *slog.Logger
}

// NewDBProxy checks cfg and returns the router. password is the admin
// password (see Config for where it comes from). It does not connect yet.
func NewDBProxy(cfg DBProxyConfig, password string, log *slog.Logger) (*DBProxy, error) {
	if cfg.ReaderTag != "" && !dbpTag.MatchString(cfg.ReaderTag) {
		return nil, fmt.Errorf("dbproxy: invalid reader_tag %q (lower-case letters, digits, _)", cfg.ReaderTag)
	}
	if cfg.ReaderWeight < 0 {
		return nil, fmt.Errorf("dbproxy: negative reader_weight %d", cfg.ReaderWeight)
	}
	if cfg.File != nil {
		if err := cfg.File.check(); err != nil {
			return nil, err
		}
	}
	admin, err := openSQLAdmin(cfg.Admin, cfg.User, password, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("dbproxy: %w", err)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	d := &DBProxy{cfg: cfg, admin: admin, timeout: 1, log: log.With("proxy", "dbproxy")}
	if cfg.OfflineTimeout > 0 {
		d.timeout = max(1, int(cfg.OfflineTimeout.Round(time.Second)/time.Second))
	}
	return d, nil
}

// Close implements Router.
func (d *DBProxy) Close() error { return d.admin.Close() }

func (d *DBProxy) list(ctx context.Context) ([]dbBackend, error) {
	cols, rows, err := d.admin.query(ctx, dbpListBackends)
	if err != nil {
		return nil, err
	}
	return parseDBProxyBackends(cols, rows)
}

// action is the next thing to do on DBProxy: send cmd (about the backend
// at address about), wait for a state change, or nothing (done).
type action struct {
	cmd, about string
	wait       bool
}

func send(cmd string, b dbBackend) action { return action{cmd: cmd, about: b.Raw} }

// step decides the next action from a fresh backend list.
type step func(list []dbBackend) (action, error)

// maxRepeats is how often the same command about the same backend may be
// sent before concluding that DBProxy ignores it (its admin interface
// reports success for an ADD it refused, e.g. a duplicate).
const maxRepeats = 3

// converge re-reads the backend list before every command, because
// backend_ndx values shift after each add or remove, until next says done.
// It sends nothing while a backend is "removing" (see below).
func (d *DBProxy) converge(ctx context.Context, next step) error {
	sent := map[string]int{}
	for {
		list, err := d.list(ctx)
		if err != nil {
			return err
		}
		act, err := next(list)
		if err == nil && act.cmd != "" && slices.ContainsFunc(list, func(b dbBackend) bool { return b.State == dbpRemoving }) {
			// A removing backend vanishes when DBProxy's checker gets to it,
			// shifting every index behind it: no command until it is gone.
			act = action{wait: true}
		}
		switch {
		case err != nil:
			return err
		case act.cmd != "":
			key := act.cmd + " for " + act.about
			if sent[key]++; sent[key] > maxRepeats {
				return fmt.Errorf("DBProxy did not apply %q to %s after %d attempts", act.cmd, act.about, maxRepeats)
			}
			d.log.Debug("admin command", "command", act.cmd, "host", act.about)
			if err := d.admin.exec(ctx, act.cmd); err != nil {
				return err
			}
		case !act.wait:
			return nil
		default:
			if err := sleepCtx(ctx, d.cfg.PollInterval); err != nil {
				return fmt.Errorf("waiting for DBProxy backends (%s): %w", dbpSummary(list), err)
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func dbpSummary(list []dbBackend) string {
	var st State
	for _, b := range list {
		if b.Type == "rw" {
			st.Writers = append(st.Writers, b.backend())
		} else {
			st.Readers = append(st.Readers, b.backend())
		}
	}
	return st.String()
}

// State implements Router.
func (d *DBProxy) State(ctx context.Context) (State, error) {
	list, err := d.list(ctx)
	if err != nil {
		return State{}, fmt.Errorf("reading DBProxy backends: %w", err)
	}
	var st State
	for _, b := range list {
		switch b.Type {
		case "rw":
			st.Writers = append(st.Writers, b.backend())
		case "ro":
			st.Readers = append(st.Readers, b.backend())
		}
	}
	return st, nil
}

// offlineStep takes one rw backend other than keep offline per call.
func (d *DBProxy) offlineStep(list []dbBackend, keep netip.AddrPort) action {
	var act action
	for _, b := range list {
		if b.Type != "rw" || (keep.IsValid() && b.Addr == keep) {
			continue
		}
		switch b.State {
		case dbpOffline:
		case dbpOfflining, dbpRemoving:
			act.wait = true
		default:
			return send(dbpSetOffline(b.Ndx, d.timeout), b)
		}
	}
	return act
}

// FenceWriter implements Router: SET OFFLINE on every read-write backend,
// then wait until DBProxy reports each "offline" (it closes the backend's
// connections once their transactions end or the timeout passes).
func (d *DBProxy) FenceWriter(ctx context.Context) error {
	start := time.Now()
	err := d.converge(ctx, func(list []dbBackend) (action, error) {
		return d.offlineStep(list, netip.AddrPort{}), nil
	})
	if err != nil {
		return fmt.Errorf("fencing DBProxy writer: %w", err)
	}
	d.log.Info("writer fenced", "cluster", FailoverFrom(ctx).Cluster, "took", time.Since(start))
	return nil
}

// SetWriter implements Router. DBProxy accepts a new read-write backend
// only while every existing one is offline, so the others are taken
// offline first, then ADD MASTER (or SET ONLINE when addr is already a
// read-write backend), then the others are removed.
func (d *DBProxy) SetWriter(ctx context.Context, addr string) error {
	start := time.Now()
	ap, err := ResolveIPv4Addr(ctx, addr)
	if err != nil {
		return fmt.Errorf("setting DBProxy writer: %w", err)
	}
	err = d.converge(ctx, func(list []dbBackend) (action, error) { return d.writerStep(list, ap) })
	if err != nil {
		return fmt.Errorf("setting DBProxy writer to %s: %w", ap, err)
	}
	d.log.Info("writer set", "cluster", FailoverFrom(ctx).Cluster, "host", ap.String(), "took", time.Since(start))
	return nil
}

func (d *DBProxy) writerStep(list []dbBackend, ap netip.AddrPort) (action, error) {
	target, ok := findBackend(list, "rw", ap)
	if !ok {
		if act := d.offlineStep(list, ap); act.cmd != "" || act.wait {
			return act, nil
		}
		cmd, err := dbpAddMaster(ap)
		return action{cmd: cmd, about: ap.String()}, err
	}
	switch target.State {
	case dbpOffline:
		return send(dbpSetOnline(target.Ndx), target), nil
	case dbpOfflining, dbpRemoving: // SET ONLINE is a no-op in these states
		return action{wait: true}, nil
	}
	var act action
	for _, b := range list {
		if b.Type != "rw" || b.Addr == ap {
			continue
		}
		if b.State != dbpRemoving {
			return send(dbpRemove(b.Ndx, d.timeout), b), nil
		}
		act.wait = true
	}
	return act, nil
}

// SetReaders implements Router: ADD SLAVE for missing readers, SET ONLINE
// for offline ones, REMOVE BACKEND for read-only backends not listed.
func (d *DBProxy) SetReaders(ctx context.Context, addrs []string) error {
	aps, err := resolveAll(ctx, addrs, true)
	if err != nil {
		return fmt.Errorf("setting DBProxy readers: %w", err)
	}
	err = d.converge(ctx, func(list []dbBackend) (action, error) { return d.readerStep(list, aps) })
	if err != nil {
		return fmt.Errorf("setting DBProxy readers: %w", err)
	}
	d.log.Info("readers set", "cluster", FailoverFrom(ctx).Cluster, "readers", len(aps))
	return nil
}

func (d *DBProxy) readerStep(list []dbBackend, want []netip.AddrPort) (action, error) {
	var act action
	for _, b := range list {
		if b.Type != "ro" || slices.Contains(want, b.Addr) {
			continue
		}
		if b.State != dbpRemoving {
			return send(dbpRemove(b.Ndx, d.timeout), b), nil
		}
		act.wait = true
	}
	for _, ap := range want {
		b, ok := findBackend(list, "ro", ap)
		switch {
		case !ok:
			cmd, err := dbpAddSlave(ap, d.cfg.ReaderTag, d.cfg.ReaderWeight)
			return action{cmd: cmd, about: ap.String()}, err
		case b.State == dbpOffline:
			return send(dbpSetOnline(b.Ndx), b), nil
		case b.State == dbpOfflining || b.State == dbpRemoving:
			act.wait = true
		}
	}
	return act, nil
}

// Persist implements Router: SAVE CONFIG makes DBProxy write its running
// backends into its own configuration file; with File set, the
// configuration is also rendered and shipped by the configured commands.
func (d *DBProxy) Persist(ctx context.Context) error {
	if err := d.admin.exec(ctx, dbpSaveConfig); err != nil {
		return fmt.Errorf("persisting DBProxy routing: %w", err)
	}
	if d.cfg.File == nil {
		d.log.Info("routing persisted", "cluster", FailoverFrom(ctx).Cluster)
		return nil
	}
	list, err := d.list(ctx)
	if err != nil {
		return fmt.Errorf("persisting DBProxy routing: %w", err)
	}
	if err := d.cfg.File.ship(ctx, list, d.log); err != nil {
		return fmt.Errorf("persisting DBProxy routing: %w", err)
	}
	return nil
}

// Verify implements Router.
func (d *DBProxy) Verify(ctx context.Context, want string) error {
	ap, err := ResolveIPv4Addr(ctx, want)
	if err != nil {
		return fmt.Errorf("verifying DBProxy writer: %w", err)
	}
	st, err := d.State(ctx)
	if err != nil {
		return fmt.Errorf("verifying DBProxy writer %s: %w", ap, err)
	}
	if err := verifyState(st, ap.String()); err != nil {
		return fmt.Errorf("verifying DBProxy writer: %w", err)
	}
	return nil
}

// Preflight implements Router.
func (d *DBProxy) Preflight(ctx context.Context) ([]string, error) {
	list, err := d.list(ctx)
	if err != nil {
		return nil, fmt.Errorf("DBProxy preflight: %w", err)
	}
	var warns []string
	online := 0
	for _, b := range list {
		if !b.Addr.IsValid() || !b.Addr.Addr().Is4() {
			warns = append(warns, fmt.Sprintf("DBProxy backend %q is not an IPv4 ip:port: recoup cannot match it", b.Raw))
		}
		if b.Type == "rw" && b.online() {
			online++
		}
	}
	if online != 1 {
		warns = append(warns, fmt.Sprintf("DBProxy has %d read-write backends online, expected 1", online))
	}
	if d.cfg.File != nil {
		warns = append(warns, d.cfg.File.preflight()...)
	}
	for _, w := range warns {
		d.log.Warn(w)
	}
	return warns, nil
}
