package route

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ProxySQLConfig drives ProxySQL through its admin interface (port 6032 by
// default): servers of the writer hostgroup and, optionally, of the reader
// hostgroup in mysql_servers, applied with LOAD MYSQL SERVERS TO RUNTIME.
type ProxySQLConfig struct {
	Admin           string `yaml:"admin"` // host:port of the admin interface
	User            string `yaml:"user"`
	PasswordFile    string `yaml:"password_file"`
	PasswordEnv     string `yaml:"password_env"`
	WriterHostgroup int    `yaml:"writer_hostgroup"`
	// ReaderHostgroup is nil when recoup does not manage readers.
	ReaderHostgroup *int          `yaml:"reader_hostgroup"`
	Timeout         time.Duration `yaml:"timeout"` // per admin statement, default 5s
}

// ProxySQL is the Router for ProxySQL.
type ProxySQL struct {
	cfg   ProxySQLConfig
	admin *sqlAdmin
	log   *slog.Logger
}

// NewProxySQL checks cfg and returns the router; it does not connect yet.
func NewProxySQL(cfg ProxySQLConfig, password string, log *slog.Logger) (*ProxySQL, error) {
	if cfg.WriterHostgroup < 0 {
		return nil, fmt.Errorf("proxysql: negative writer_hostgroup %d", cfg.WriterHostgroup)
	}
	if r := cfg.ReaderHostgroup; r != nil && (*r < 0 || *r == cfg.WriterHostgroup) {
		return nil, fmt.Errorf("proxysql: reader_hostgroup %d must be >= 0 and differ from writer_hostgroup", *r)
	}
	admin, err := openSQLAdmin(cfg.Admin, cfg.User, password, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("proxysql: %w", err)
	}
	return &ProxySQL{cfg: cfg, admin: admin, log: log.With("proxy", "proxysql")}, nil
}

// Close implements Router.
func (p *ProxySQL) Close() error { return p.admin.Close() }

// ProxySQL admin statements. Values are hostgroup ints and IP addresses
// from netip (digits, dots, colons, hex letters): nothing else reaches the
// text, which the admin interface requires (no prepared statements).

const psqlRuntimeServers = "SELECT hostgroup_id, hostname, port, status FROM runtime_mysql_servers"

const psqlReplHostgroups = "SELECT writer_hostgroup, reader_hostgroup FROM mysql_replication_hostgroups"

const (
	psqlLoad = "LOAD MYSQL SERVERS TO RUNTIME"
	psqlSave = "SAVE MYSQL SERVERS TO DISK"
)

func psqlFence(hg int) string {
	return fmt.Sprintf("UPDATE mysql_servers SET status='OFFLINE_HARD' WHERE hostgroup_id=%d", hg)
}

func psqlClear(hg int) string {
	return fmt.Sprintf("DELETE FROM mysql_servers WHERE hostgroup_id=%d", hg)
}

func psqlInsert(hg int, ap netip.AddrPort) string {
	return fmt.Sprintf("INSERT INTO mysql_servers (hostgroup_id, hostname, port, status) VALUES (%d, '%s', %d, 'ONLINE')",
		hg, ap.Addr().String(), ap.Port())
}

// runtimeServers reads the runtime view, per hostgroup.
func (p *ProxySQL) runtimeServers(ctx context.Context) (map[int][]Backend, error) {
	cols, rows, err := p.admin.query(ctx, psqlRuntimeServers)
	if err != nil {
		return nil, err
	}
	return parseProxySQLServers(cols, rows)
}

func parseProxySQLServers(cols []string, rows [][]sql.NullString) (map[int][]Backend, error) {
	idx, err := columnIndex(cols, "hostgroup_id", "hostname", "port", "status")
	if err != nil {
		return nil, fmt.Errorf("runtime_mysql_servers: %w", err)
	}
	out := map[int][]Backend{}
	for _, r := range rows {
		hg, err1 := strconv.Atoi(r[idx["hostgroup_id"]].String)
		port, err2 := strconv.ParseUint(r[idx["port"]].String, 10, 16)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("runtime_mysql_servers: invalid hostgroup %q or port %q",
				r[idx["hostgroup_id"]].String, r[idx["port"]].String)
		}
		host, status := r[idx["hostname"]].String, strings.ToUpper(r[idx["status"]].String)
		addr := hostPort(host, uint16(port))
		out[hg] = append(out[hg], Backend{
			Addr:    addr,
			Status:  status,
			Enabled: status == "ONLINE" || status == "SHUNNED",
			Up:      status == "ONLINE",
			Name:    "hostgroup " + strconv.Itoa(hg),
		})
	}
	return out, nil
}

func hostPort(host string, port uint16) string {
	if ip, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), port).String()
	}
	return host + ":" + strconv.Itoa(int(port))
}

// State implements Router: the runtime view (runtime_mysql_servers).
func (p *ProxySQL) State(ctx context.Context) (State, error) {
	byHG, err := p.runtimeServers(ctx)
	if err != nil {
		return State{}, fmt.Errorf("reading ProxySQL runtime servers: %w", err)
	}
	st := State{Writers: byHG[p.cfg.WriterHostgroup]}
	if p.cfg.ReaderHostgroup != nil {
		st.Readers = byHG[*p.cfg.ReaderHostgroup]
	}
	return st, nil
}

// apply runs statements then LOAD MYSQL SERVERS TO RUNTIME.
func (p *ProxySQL) apply(ctx context.Context, stmts ...string) error {
	for _, s := range append(stmts, psqlLoad) {
		if err := p.admin.exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// FenceWriter implements Router: every server of the writer hostgroup
// becomes OFFLINE_HARD, which makes ProxySQL drop their connections and
// open no new one, then the runtime view is checked.
func (p *ProxySQL) FenceWriter(ctx context.Context) error {
	start := time.Now()
	if err := p.apply(ctx, psqlFence(p.cfg.WriterHostgroup)); err != nil {
		return fmt.Errorf("fencing ProxySQL writer hostgroup %d: %w", p.cfg.WriterHostgroup, err)
	}
	st, err := p.State(ctx)
	if err != nil {
		return fmt.Errorf("checking ProxySQL fence: %w", err)
	}
	if en := st.EnabledWriters(); len(en) > 0 {
		return fmt.Errorf("checking ProxySQL fence: writer hostgroup %d still routes to %s (%s)",
			p.cfg.WriterHostgroup, en[0].Addr, en[0].Status)
	}
	p.log.Info("writer fenced", "cluster", FailoverFrom(ctx).Cluster, "took", time.Since(start))
	return nil
}

// SetWriter implements Router: the writer hostgroup is emptied and addr
// inserted ONLINE, in one LOAD to runtime.
func (p *ProxySQL) SetWriter(ctx context.Context, addr string) error {
	ap, err := ResolveAddr(ctx, addr)
	if err != nil {
		return fmt.Errorf("setting ProxySQL writer: %w", err)
	}
	hg := p.cfg.WriterHostgroup
	if err := p.apply(ctx, psqlClear(hg), psqlInsert(hg, ap)); err != nil {
		return fmt.Errorf("setting ProxySQL writer to %s: %w", ap, err)
	}
	p.log.Info("writer set", "cluster", FailoverFrom(ctx).Cluster, "host", ap.String())
	return nil
}

// SetReaders implements Router: the reader hostgroup is replaced by addrs.
func (p *ProxySQL) SetReaders(ctx context.Context, addrs []string) error {
	if p.cfg.ReaderHostgroup == nil {
		return fmt.Errorf("setting ProxySQL readers: no reader_hostgroup configured")
	}
	aps, err := resolveAll(ctx, addrs, false)
	if err != nil {
		return fmt.Errorf("setting ProxySQL readers: %w", err)
	}
	hg := *p.cfg.ReaderHostgroup
	stmts := []string{psqlClear(hg)}
	for _, ap := range aps {
		stmts = append(stmts, psqlInsert(hg, ap))
	}
	if err := p.apply(ctx, stmts...); err != nil {
		return fmt.Errorf("setting ProxySQL readers: %w", err)
	}
	p.log.Info("readers set", "cluster", FailoverFrom(ctx).Cluster, "readers", len(aps))
	return nil
}

// Persist implements Router: SAVE MYSQL SERVERS TO DISK.
func (p *ProxySQL) Persist(ctx context.Context) error {
	if err := p.admin.exec(ctx, psqlSave); err != nil {
		return fmt.Errorf("persisting ProxySQL servers: %w", err)
	}
	return nil
}

// Verify implements Router, on the runtime view: ONLINE is up; SHUNNED
// (ProxySQL saw errors) is in rotation but not up.
func (p *ProxySQL) Verify(ctx context.Context, want string) error {
	ap, err := ResolveAddr(ctx, want)
	if err != nil {
		return fmt.Errorf("verifying ProxySQL writer: %w", err)
	}
	st, err := p.State(ctx)
	if err != nil {
		return fmt.Errorf("verifying ProxySQL writer %s: %w", ap, err)
	}
	if err := verifyState(st, ap.String()); err != nil {
		return fmt.Errorf("verifying ProxySQL writer: %w", err)
	}
	return nil
}

// Preflight implements Router. It warns when mysql_replication_hostgroups
// covers the writer hostgroup: ProxySQL's monitor then moves servers
// between writer and reader hostgroups by their read_only flag, by itself,
// which defeats the fence (a fenced old master that comes back writable is
// put back as writer) and races SetWriter.
func (p *ProxySQL) Preflight(ctx context.Context) ([]string, error) {
	if _, err := p.State(ctx); err != nil {
		return nil, fmt.Errorf("ProxySQL preflight: %w", err)
	}
	cols, rows, err := p.admin.query(ctx, psqlReplHostgroups)
	if err != nil {
		return nil, fmt.Errorf("ProxySQL preflight: %w", err)
	}
	idx, err := columnIndex(cols, "writer_hostgroup", "reader_hostgroup")
	if err != nil {
		return nil, fmt.Errorf("ProxySQL preflight: mysql_replication_hostgroups: %w", err)
	}
	var warns []string
	hg := strconv.Itoa(p.cfg.WriterHostgroup)
	for _, r := range rows {
		w, rd := r[idx["writer_hostgroup"]].String, r[idx["reader_hostgroup"]].String
		if w == hg || rd == hg {
			warns = append(warns, fmt.Sprintf("ProxySQL mysql_replication_hostgroups has writer_hostgroup=%s reader_hostgroup=%s: "+
				"ProxySQL moves servers by read_only on its own, which defeats the fence; remove that entry for hostgroup %s", w, rd, hg))
		}
	}
	for _, w := range warns {
		p.log.Warn(w, "cluster", FailoverFrom(ctx).Cluster)
	}
	return warns, nil
}
