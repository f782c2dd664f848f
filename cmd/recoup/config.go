package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/recoup-dev/recoup/repl"
)

// Config is recoup.yaml. Each package receives only its part, once
// Validate has passed.
type Config struct {
	Clusters []ClusterConfig `yaml:"clusters"`
	Store    StoreConfig     `yaml:"store"`
	Admin    AdminConfig     `yaml:"admin"`
	Log      LogConfig       `yaml:"log"`
	Hook     HookConfig      `yaml:"hook"`
}

// ClusterConfig is one replication cluster that recoup captures.
type ClusterConfig struct {
	// Name is the Orchestrator cluster alias: the stable name of the cluster.
	Name   string `yaml:"name"`
	Flavor string `yaml:"flavor"` // mariadb (default) or mysql
	// Master is host:port of the current master, where capture starts.
	Master string `yaml:"master"`
	User   string `yaml:"user"`
	// The password comes from a file (first line) or an environment
	// variable, never inline.
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
	// ServerID is the replica server_id the streamer uses; unique across
	// every server and streamer of the cluster.
	ServerID uint32 `yaml:"server_id"`
	// AllowReplicaSource permits capturing from a server that is a replica.
	AllowReplicaSource bool `yaml:"allow_replica_source"`
	// SemiSync makes the streamer a semi-synchronous replica that
	// acknowledges a transaction only once the capture log holds it.
	SemiSync bool `yaml:"semi_sync"`
	// Schemas limits the schema history to these schemas (all when empty).
	Schemas []string `yaml:"schemas"`
	// Compensate configures `recoup plan`, `recoup compensate` and the
	// hook's compensation step for this cluster.
	Compensate CompensateConfig `yaml:"compensate"`
	// Orchestrator, when set, makes the streamer follow the master
	// Orchestrator reports (see config_follow.go).
	Orchestrator *OrchestratorConfig `yaml:"orchestrator"`
}

// StoreConfig selects and configures the capture log.
type StoreConfig struct {
	// Kind is "local" (default) or "kafka".
	Kind  string           `yaml:"kind"`
	Local LocalStoreConfig `yaml:"local"`
	Kafka KafkaStoreConfig `yaml:"kafka"`
}

// LocalStoreConfig is the embedded store: one directory per cluster under Dir.
type LocalStoreConfig struct {
	Dir            string        `yaml:"dir"`
	SegmentBytes   int64         `yaml:"segment_bytes"`
	RetentionBytes int64         `yaml:"retention_bytes"`
	RetentionAge   time.Duration `yaml:"retention_age"`
}

// KafkaStoreConfig is the Kafka store: one single-partition topic per cluster.
type KafkaStoreConfig struct {
	Brokers     []string `yaml:"brokers"`
	TopicPrefix string   `yaml:"topic_prefix"`
}

// AdminConfig is the daemon's HTTP endpoint (/metrics, /healthz, admin API).
type AdminConfig struct {
	Listen    string `yaml:"listen"`
	TokenFile string `yaml:"token_file"`
	TokenEnv  string `yaml:"token_env"`
}

// LogConfig sets the log level and format.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// LoadConfig reads, defaults and validates a config file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &c, nil
}

func (c *Config) applyDefaults() {
	for i := range c.Clusters {
		if c.Clusters[i].Flavor == "" {
			c.Clusters[i].Flavor = "mariadb"
		}
		c.Clusters[i].Compensate.applyDefaults()
	}
	if c.Store.Kind == "" {
		c.Store.Kind = "local"
	}
	if c.Store.Local.Dir == "" {
		c.Store.Local.Dir = "/var/lib/recoup"
	}
	if c.Store.Kafka.TopicPrefix == "" {
		c.Store.Kafka.TopicPrefix = "recoup."
	}
	if c.Admin.Listen == "" {
		c.Admin.Listen = "127.0.0.1:7878"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	c.Hook.applyDefaults()
}

// Validate checks the whole config and reports every problem at once, each
// naming the field to change.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Clusters) == 0 {
		bad("clusters: at least one cluster is required")
	}
	names, ids := map[string]bool{}, map[uint32]string{}
	for i, cl := range c.Clusters {
		at := fmt.Sprintf("clusters[%d]", i)
		if cl.Name == "" {
			bad("%s.name: required (the Orchestrator cluster alias)", at)
		} else if names[cl.Name] {
			bad("%s.name: %q is used twice", at, cl.Name)
		}
		names[cl.Name] = true
		if _, err := repl.ParseFlavor(cl.Flavor); err != nil {
			bad("%s.flavor: %w", at, err)
		}
		if err := validateHostPort(cl.Master); err != nil {
			bad("%s.master: %w", at, err)
		}
		if cl.User == "" {
			bad("%s.user: required", at)
		}
		if (cl.PasswordFile == "") == (cl.PasswordEnv == "") {
			bad("%s: set exactly one of password_file or password_env", at)
		}
		if cl.ServerID == 0 {
			bad("%s.server_id: required, unique among the cluster's servers and streamers", at)
		} else if other, dup := ids[cl.ServerID]; dup {
			bad("%s.server_id: %d is also used by cluster %q", at, cl.ServerID, other)
		}
		ids[cl.ServerID] = cl.Name
		errs = append(errs, cl.Compensate.validate(at)...)
		errs = append(errs, cl.Orchestrator.validate(at)...)
	}
	errs = append(errs, c.Hook.validate(names)...)
	switch c.Store.Kind {
	case "local":
		if c.Store.Local.Dir == "" {
			bad("store.local.dir: required")
		}
	case "kafka":
		if len(c.Store.Kafka.Brokers) == 0 {
			bad("store.kafka.brokers: at least one broker is required")
		}
		for _, b := range c.Store.Kafka.Brokers {
			if err := validateHostPort(b); err != nil {
				bad("store.kafka.brokers: %w", err)
			}
		}
	default:
		bad("store.kind: %q: want local or kafka", c.Store.Kind)
	}
	if err := validateHostPort(c.Admin.Listen); err != nil {
		bad("admin.listen: %w", err)
	} else if !isLoopback(c.Admin.Listen) && c.Admin.TokenFile == "" && c.Admin.TokenEnv == "" {
		bad("admin.listen: %s is not a loopback address; set admin.token_file or admin.token_env", c.Admin.Listen)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level: %q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format: %q: want text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

// Cluster returns the named cluster's config.
func (c *Config) Cluster(name string) (*ClusterConfig, error) {
	for i := range c.Clusters {
		if c.Clusters[i].Name == name {
			return &c.Clusters[i], nil
		}
	}
	return nil, fmt.Errorf("cluster %q is not in the config", name)
}

// Password resolves the cluster's password from its file or environment variable.
func (cl *ClusterConfig) Password() (string, error) {
	return secret(cl.PasswordFile, cl.PasswordEnv, "cluster "+cl.Name+" password")
}

func secret(file, env, what string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimRight(line, "\r"), nil
	}
	if env != "" {
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", fmt.Errorf("%s: environment variable %s is not set", what, env)
		}
		return v, nil
	}
	return "", nil
}

func validateHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", s, err)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port must be 1..65535", s)
	}
	return nil
}

func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
