// Package sandbox runs real MariaDB servers (Debian's mariadb-server 10.11,
// /usr/sbin/mariadbd) on 127.0.0.1 for tests, the demo and `make sandbox-up`.
//
// It starts a primary and N replicas, each a separate mariadbd process with
// its own temporary datadir, on free loopback ports, with the settings recoup
// needs (log_bin, ROW format, FULL row image and metadata, gtid_strict_mode,
// log_slave_updates, distinct server ids) unless a test overrides them.
// Replicas replicate with MASTER_USE_GTID=slave_pos. Helpers stop, kill -9,
// restart instances, stop replication, wait for replicas to catch up by GTID
// and promote a replica the way Orchestrator does.
//
// Datadirs are copied from a template made once by mariadb-install-db and
// cached under the user's cache directory (keyed by the mariadbd binary), so
// starting a server costs a file copy plus the server's own startup.
// Temporary sandboxes live in /dev/shm when it is a roomy tmpfs (else
// $TMPDIR): a 3-node topology then starts in about 0.2-0.5 s.
//
// Lifetime: servers of a test topology get SIGKILL when the test process
// dies (Pdeathsig), and the next Launch removes temporary sandbox
// directories whose owner process is gone. Detached servers (Options.Detach,
// sandboxctl up) outlive their process; WriteState records them and Down
// stops them.
//
// Credentials: every instance gets root@'127.0.0.1' and root@'%' with a
// random password, created over the unix socket with sql_log_bin=0; the
// password never appears on a command line or in a log.
//
// It does not download or install MariaDB: a missing mariadbd is an error
// carrying the apt-get hint. It never listens on anything but 127.0.0.1.
//
// Main types and functions:
//   - Launch / Topology.Close: the context-and-error API (CLI, demo).
//   - StartTopology / StartInstance: testing.TB wrappers with t.Cleanup.
//   - Instance: one server (DSN, Pool, Stop, Kill, Start, GTID positions).
//   - Topology.Promote: Orchestrator-style failover.
//   - WriteState / Attach / Down: a topology that outlives its process
//     (sandboxctl up/down/status).
package sandbox
