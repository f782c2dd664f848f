package sandbox

import (
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Drop, used as a setting's value, removes that option from the server's
// command line, e.g. Settings{"log_bin": sandbox.Drop} starts without a
// binary log.
const Drop = "\x00drop"

// Options describe a topology: a primary and Replicas replicas of it.
type Options struct {
	// Replicas is the number of replicas of the primary (0 for a
	// standalone server).
	Replicas int
	// Settings override the default server options on every instance;
	// keys are option names with _ or - ("binlog_format", "log-bin").
	Settings map[string]string
	// InstanceSettings override Settings for one instance, by index:
	// 0 is the primary, 1..Replicas the replicas.
	InstanceSettings map[int]map[string]string
	// Dir holds the instance directories. Empty: a fresh temporary
	// directory, removed by Close. Unix socket paths under it must stay
	// below 104 bytes.
	Dir string
	// Detach starts the servers in their own sessions so they outlive this
	// process (sandboxctl up). Without it they are killed if it dies.
	Detach bool
	// StartTimeout bounds the wait for one server to accept connections;
	// zero means 60s.
	StartTimeout time.Duration
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
}

func (o Options) startTimeout() time.Duration {
	if o.StartTimeout > 0 {
		return o.StartTimeout
	}
	return 60 * time.Second
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// settingsFor merges Settings and InstanceSettings for instance i.
func (o Options) settingsFor(i int) map[string]string {
	out := make(map[string]string, len(o.Settings)+len(o.InstanceSettings[i]))
	for k, v := range o.Settings {
		out[normKey(k)] = v
	}
	for k, v := range o.InstanceSettings[i] {
		out[normKey(k)] = v
	}
	return out
}

// fixedOptions are set by the sandbox itself and cannot be overridden:
// they pin the server to its directory and to 127.0.0.1.
var fixedOptions = map[string]bool{
	"no_defaults": true, "defaults_file": true, "defaults_extra_file": true,
	"datadir": true, "socket": true, "port": true, "bind_address": true,
	"pid_file": true, "log_error": true, "user": true, "skip_name_resolve": true, "tmpdir": true,
	"skip_networking": true,
}

func normKey(k string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(strings.TrimLeft(k, "-"))), "-", "_")
}

// defaultSettings are the options every instance starts with unless
// overridden: what recoup needs from a source, sized for a small box.
func defaultSettings(serverID uint32, port int) map[string]string {
	return map[string]string{
		"server_id":               strconv.FormatUint(uint64(serverID), 10),
		"log_bin":                 "mysql-bin",
		"relay_log":               "relay-bin",
		"binlog_format":           "ROW",
		"binlog_row_image":        "FULL",
		"binlog_row_metadata":     "FULL",
		"gtid_strict_mode":        "ON",
		"log_slave_updates":       "ON",
		"report_host":             loopback,
		"report_port":             strconv.Itoa(port),
		"innodb_buffer_pool_size": "64M",
		"innodb_log_file_size":    templateLogFileSize,
		// The 12M default is written out in full at every start.
		"innodb_temp_data_file_path": "ibtmp1:1M:autoextend",
		"performance_schema":         "OFF",
		"character_set_server":       "utf8mb4",
		"collation_server":           "utf8mb4_general_ci",
		"max_connections":            "200",
	}
}

const loopback = "127.0.0.1"

// serverArgs builds the mariadbd command line for one instance. Overrides
// win over defaults; Drop removes an option; fixed options are rejected.
func serverArgs(in *Instance, overrides map[string]string) ([]string, error) {
	merged := defaultSettings(in.ServerID, in.Port)
	for k, v := range overrides {
		if fixedOptions[k] {
			return nil, fmt.Errorf("option %q is set by the sandbox and cannot be overridden", k)
		}
		if v == Drop {
			delete(merged, k)
			continue
		}
		merged[k] = v
	}
	args := []string{
		"--no-defaults",
		"--datadir=" + in.DataDir,
		"--socket=" + in.Socket,
		"--port=" + strconv.Itoa(in.Port),
		"--bind-address=" + loopback,
		"--skip-name-resolve",
		"--pid-file=" + in.PIDFile(),
		"--log-error=" + in.ErrorLog(),
		// A private tmpdir: a starting mariadbd removes #sql* files from its
		// tmpdir, which are live temporary tables of any other server
		// sharing it (seen as crashes when test binaries run in parallel).
		"--tmpdir=" + in.TmpDir(),
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--"+strings.ReplaceAll(k, "_", "-")+"="+merged[k])
	}
	return args, nil
}
