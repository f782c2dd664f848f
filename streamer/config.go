package streamer

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/recoup-dev/recoup/repl"
)

// Config is what one cluster's streamer needs. Zero durations and limits
// take the defaults documented on each field.
type Config struct {
	// Cluster is the Orchestrator cluster alias; it names the capture log.
	Cluster string
	// Flavor is repl.MariaDB or repl.MySQL.
	Flavor repl.Flavor
	// Master is the host:port the streamer reads the binlog from.
	Master string
	// User and Password log in to the master. Password is never logged.
	User     string
	Password string
	// ServerID is the replica server_id the streamer registers with. It
	// must be unique among every server and replica of the cluster.
	ServerID uint32
	// HeartbeatPeriod asks the master for a heartbeat when it has no
	// events to send; default 1s. The connection is considered dead after
	// three periods of silence.
	HeartbeatPeriod time.Duration
	// AllowReplicaSource lets the streamer read from a server that is
	// itself a replica (read_only or replicating). Off by default: capture
	// must read from the cluster's master.
	AllowReplicaSource bool
	// Schemas limits capture to these schemas. Empty means every schema
	// but the system ones (mysql, information_schema, performance_schema,
	// sys). Every transaction is still recorded (GTID continuity); row
	// events and DDL of other schemas are left out of its Record.
	Schemas []string
	// SemiSync makes the streamer a semi-synchronous replica that
	// acknowledges a transaction only once the capture log holds it
	// durably: with the master's rpl_semi_sync_master_enabled=ON, a commit
	// the master acknowledged to its client is in the log (unless the
	// master gave up waiting: rpl_semi_sync_master_timeout). Each flagged
	// transaction then waits for its own Append.
	SemiSync bool
	// MaxBatchRecords and MaxBatchBytes bound one group commit (one
	// Store.Append); defaults 512 records and 4 MiB.
	MaxBatchRecords int
	MaxBatchBytes   int
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// connection attempts; defaults 100ms and 30s.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// ConnectTimeout bounds dialing the master; default 5s.
	ConnectTimeout time.Duration
}

// Defaults.
const (
	DefaultHeartbeatPeriod = time.Second
	DefaultMaxBatchRecords = 512
	DefaultMaxBatchBytes   = 4 << 20
	DefaultReconnectMin    = 100 * time.Millisecond
	DefaultReconnectMax    = 30 * time.Second
	DefaultConnectTimeout  = 5 * time.Second
)

// systemSchemas are never captured.
var systemSchemas = map[string]bool{"mysql": true, "information_schema": true, "performance_schema": true, "sys": true}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&c.HeartbeatPeriod, DefaultHeartbeatPeriod)
	set(&c.ReconnectMin, DefaultReconnectMin)
	set(&c.ReconnectMax, DefaultReconnectMax)
	set(&c.ConnectTimeout, DefaultConnectTimeout)
	if c.MaxBatchRecords <= 0 {
		c.MaxBatchRecords = DefaultMaxBatchRecords
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	return c
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Cluster) == "" {
		errs = append(errs, errors.New("cluster name is empty"))
	}
	if c.Flavor != repl.MariaDB && c.Flavor != repl.MySQL {
		errs = append(errs, errors.New("flavor must be mariadb or mysql"))
	}
	if _, _, err := splitHostPort(c.Master); err != nil {
		errs = append(errs, err)
	}
	if c.User == "" {
		errs = append(errs, errors.New("user is empty"))
	}
	if c.ServerID == 0 {
		errs = append(errs, errors.New("server_id must be a unique non-zero replica id"))
	}
	if c.ReconnectMin > 0 && c.ReconnectMax > 0 && c.ReconnectMax < c.ReconnectMin {
		errs = append(errs, errors.New("reconnect backoff max is below min"))
	}
	for _, s := range c.Schemas {
		if systemSchemas[strings.ToLower(s)] {
			errs = append(errs, fmt.Errorf("schema %q is a system schema and cannot be captured", s))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("streamer config for cluster %q: %w", c.Cluster, err)
	}
	return nil
}

// LogValue keeps the password out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("cluster", c.Cluster),
		slog.String("flavor", c.Flavor.String()),
		slog.String("host", c.Master),
		slog.String("user", c.User),
		slog.Any("server_id", c.ServerID),
		slog.Any("schemas", c.Schemas),
	)
}

// captures reports whether rows and DDL of schema are captured.
func (c Config) captures(schema string) bool {
	if len(c.Schemas) == 0 {
		return !systemSchemas[strings.ToLower(schema)]
	}
	for _, s := range c.Schemas {
		if s == schema {
			return true
		}
	}
	return false
}

func splitHostPort(addr string) (string, uint16, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("master address %q: want host:port: %w", addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 || host == "" {
		return "", 0, fmt.Errorf("master address %q: want host:port with a port 1-65535", addr)
	}
	return host, uint16(p), nil
}
