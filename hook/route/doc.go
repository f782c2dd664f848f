// Package route switches the SQL proxy in front of a cluster during a
// failover: it fences the old master (no write reaches it through the
// proxy), points the proxy at the new master and replicas, makes that
// survive a proxy restart, and verifies the proxy's own view.
//
// One interface, Router, has one implementation per proxy:
//
//   - HAProxy: the runtime API over the stats socket ("level admin"):
//     "set server be/srv addr IP port P", "set server be/srv state
//     maint|ready", "shutdown sessions server be/srv", "show servers state
//     be". HAProxy answers errors as text on a successful exchange ("No such
//     server.", "Require 'backend/server'.", "Invalid addr ..."); every
//     command knows its success answer and anything else is an error.
//     HAProxy also silently wraps ports above 65535, so ports are checked
//     here. HAProxy marks a server leaving maintenance UP at once and keeps
//     a slot's health across "set server addr", so a re-pointed checked
//     slot is forced down ("set server ... health down") right after
//     "ready": it comes up only when its own checks pass, and Verify's "up"
//     is about the new server (cost: "rise" check intervals). Tested with
//     HAProxy 2.6 (Debian 12). Persist writes "show servers state" to the server-state-file
//     and rewrites the managed "server" lines of the configuration file,
//     because HAProxy restores admin state and port from the state file but
//     not the IP address.
//
//   - DBProxy (Meituan DBProxy, from Qihoo 360 Atlas): the admin interface
//     (MySQL protocol, text commands matched by anchored Lua patterns on
//     the lower-cased text, so no trailing semicolon): "SELECT * FROM
//     backends" (backend_ndx, address, hostname, state, type, weight, tag,
//     threads_running), "SET OFFLINE n [TIMEOUT s]", "SET ONLINE n", "ADD
//     MASTER ip:port", "ADD SLAVE ip:port[$tag][@weight]", "REMOVE BACKEND n
//     [TIMEOUT s]", "SAVE CONFIG". backend_ndx is a position that shifts
//     after every add or remove (an added master is even swapped in front
//     of the first slave), so the list is re-read and the backend looked up
//     by address before each command; a "removing" backend vanishes when
//     DBProxy's checker gets to it, so no command is sent while one is
//     listed. (Another admin changing backends at the same time can still
//     shift an index between the read and the command: DBProxy offers no
//     way to address a backend other than by position.) ADD takes IPv4
//     literals only. The DBProxy of the original deployment takes a second
//     read-write backend only when every existing one is offline (upstream's
//     network_backends_add only rejects duplicates): the old writer is taken
//     offline before ADD MASTER either way. SET ONLINE is silently ignored
//     while a backend is "offlining" or "removing", and ADD reports success
//     even when DBProxy refused it (duplicate): every step is therefore
//     checked on a fresh list, and a command repeated three times without
//     effect is an error.
//
//   - ProxySQL: the admin interface; mysql_servers rows of the writer (and
//     optionally reader) hostgroup, LOAD MYSQL SERVERS TO RUNTIME, SAVE
//     MYSQL SERVERS TO DISK; the fence is status OFFLINE_HARD (connections
//     dropped). State and Verify read runtime_mysql_servers. Preflight warns
//     when mysql_replication_hostgroups covers the writer hostgroup:
//     ProxySQL then moves servers by their read_only flag on its own, which
//     defeats the fence.
//
//   - Command and webhook: for proxies recoup does not know. A command
//     (argv, no shell) gets the Event in RECOUP_* environment variables; a
//     webhook gets it as a JSON POST, with an optional bearer token.
//
// Statements sent to the SQL admin interfaces are text (neither admin
// interface has prepared statements); the only values in them are IP
// addresses printed by net/netip and integers, after validation.
//
// # DBProxy in production (the original deployment)
//
// Runtime switch through the admin port (what Router does):
//
//  1. SELECT * FROM backends; SET OFFLINE <ndx of the rw backend> TIMEOUT 1;
//     poll until its state is "offline" (DBProxy waits for open
//     transactions up to the timeout, then closes them).
//  2. ADD MASTER <new ip>:<port>; SELECT * FROM backends to check it is
//     there; REMOVE BACKEND <ndx of the old rw backend, looked up again>.
//  3. ADD SLAVE / REMOVE BACKEND for the read-only set, one at a time,
//     re-reading the list in between.
//  4. SAVE CONFIG, so DBProxy writes its running backends to its
//     configuration file.
//
// With several DBProxy instances sharing one configuration (DBProxyFileConfig),
// Persist also renders the configuration file from the template, replacing
// proxy-backend-addresses and proxy-read-only-backend-addresses in the
// [mysql-proxy] section, and runs the configured upload, distribute and
// restart commands (argv arrays, no shell, "{file}" replaced by the
// rendered file's path) — e.g. an scp to a config host, a push to every
// proxy host, and "mysql-proxyd <instance> restart" there.
//
// It does not decide when to fail over (Orchestrator does), does not touch
// the databases, and keeps no state between calls: every method reads the
// proxy afresh.
//
// Main types: Router, State, Backend, Config (New), HAProxy, DBProxy,
// ProxySQL, External (command and webhook), Event, Failover.
package route
