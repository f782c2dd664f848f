// Package haproxytest runs a real HAProxy (Debian's haproxy package,
// /usr/sbin/haproxy) on 127.0.0.1 for tests of the proxy switch.
//
// Start writes a configuration into a temporary directory: TCP mode, a
// writer frontend and a reader frontend on free loopback ports, backend
// "writer" with one server slot "db", backend "readers" with reader slots
// "r1", "r2", ... (spare slots disabled), TCP health checks every 100 ms,
// an admin-level stats socket (unix, mode 600) and a server-state-file that
// HAProxy reloads on start. HAProxy runs in the foreground (-db) and is
// killed with the test process (Pdeathsig) or by t.Cleanup.
//
// It does not install HAProxy: a missing binary fails the test with the
// apt-get hint. It never listens on anything but 127.0.0.1.
//
// Main type: HAProxy (addresses, paths, backend and server names, Restart).
package haproxytest
