package route

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// haproxyCLI speaks HAProxy's runtime API ("stats socket ... level admin"):
// one command per connection, in non-interactive mode, so HAProxy closes
// the connection after its answer. Failures come back as text on an
// otherwise successful exchange; each command knows what success looks
// like and anything else is an error.
type haproxyCLI struct {
	network, address string // "unix" + path, or "tcp" + host:port
	timeout          time.Duration
}

// maxCLIAnswer bounds what is read from the socket.
const maxCLIAnswer = 4 << 20

func newHAProxyCLI(socket string, timeout time.Duration) (*haproxyCLI, error) {
	c := &haproxyCLI{timeout: timeout}
	switch {
	case socket == "":
		return nil, errors.New("haproxy: socket is empty")
	case strings.HasPrefix(socket, "/"):
		c.network, c.address = "unix", socket
	default:
		if _, _, err := net.SplitHostPort(socket); err != nil {
			return nil, fmt.Errorf("haproxy: socket %q is neither an absolute unix socket path nor host:port: %w", socket, err)
		}
		c.network, c.address = "tcp", socket
	}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	return c, nil
}

// exchange sends one command line and returns HAProxy's whole answer.
func (c *haproxyCLI) exchange(ctx context.Context, cmd string) (string, error) {
	if strings.ContainsAny(cmd, "\n;") {
		return "", fmt.Errorf("haproxy command %q: newline or ';' not allowed", cmd)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.network, c.address)
	if err != nil {
		return "", fmt.Errorf("connecting to the haproxy runtime API at %s: %w", c.address, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl) // a failed deadline shows up as a read error
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", fmt.Errorf("sending %q to haproxy at %s: %w", cmd, c.address, err)
	}
	b, err := io.ReadAll(io.LimitReader(conn, maxCLIAnswer+1))
	if err != nil {
		return "", fmt.Errorf("reading haproxy's answer to %q: %w", cmd, err)
	}
	if len(b) > maxCLIAnswer {
		return "", fmt.Errorf("haproxy's answer to %q exceeds %d bytes", cmd, maxCLIAnswer)
	}
	return string(b), nil
}

// expectEmpty runs a command whose success is an empty answer ("set server
// ... state", "shutdown sessions server").
func (c *haproxyCLI) expectEmpty(ctx context.Context, cmd string) error {
	out, err := c.exchange(ctx, cmd)
	if err != nil {
		return err
	}
	if msg := strings.TrimSpace(out); msg != "" {
		return fmt.Errorf("haproxy refused %q: %s", cmd, firstLine(msg))
	}
	return nil
}

// addrChanged matches HAProxy's success answers to "set server ... addr".
var addrChanged = regexp.MustCompile(`^(IP changed from '[^']*' to '[^']*'|no need to change the addr)[^\n]*by 'stats socket command'$`)

func (c *haproxyCLI) setAddr(ctx context.Context, server string, ap netip.AddrPort) error {
	cmd := fmt.Sprintf("set server %s addr %s port %d", server, ap.Addr().String(), ap.Port())
	out, err := c.exchange(ctx, cmd)
	if err != nil {
		return err
	}
	if msg := strings.TrimSpace(out); !addrChanged.MatchString(msg) {
		return fmt.Errorf("haproxy refused %q: %s", cmd, firstLine(msg))
	}
	return nil
}

func (c *haproxyCLI) setState(ctx context.Context, server, state string) error {
	return c.expectEmpty(ctx, "set server "+server+" state "+state)
}

func (c *haproxyCLI) shutdownSessions(ctx context.Context, server string) error {
	return c.expectEmpty(ctx, "shutdown sessions server "+server)
}

// serversState runs "show servers state [backend]" and parses it.
func (c *haproxyCLI) serversState(ctx context.Context, backend string) ([]haServer, string, error) {
	cmd := strings.TrimSpace("show servers state " + backend)
	out, err := c.exchange(ctx, cmd)
	if err != nil {
		return nil, "", err
	}
	servers, err := parseServersState(out)
	if err != nil {
		return nil, "", fmt.Errorf("haproxy %q: %w", cmd, err)
	}
	return servers, out, nil
}

// haServer is one row of "show servers state".
type haServer struct {
	Backend, Name string
	Addr          netip.AddrPort
	OpState       int // 0 stopped, 1 starting, 2 running, 3 stopping
	AdminState    int // SRV_ADMF_* bits
	CheckState    int // CHK_ST_* bits
}

// HAProxy's srv_admin_state and check state bits (include/haproxy/server-t.h,
// check-t.h).
const (
	haAdminMaintMask  = 0x23 // FMAINT | IMAINT | RMAINT
	haAdminDrainMask  = 0x18 // FDRAIN | IDRAIN
	haCheckConfigured = 0x02 // CHK_ST_CONFIGURED
	haOpRunning       = 2
)

func (s haServer) id() string { return s.Backend + "/" + s.Name }

func (s haServer) maint() bool { return s.AdminState&haAdminMaintMask != 0 }

func (s haServer) enabled() bool {
	return s.AdminState&(haAdminMaintMask|haAdminDrainMask) == 0
}

func (s haServer) status() string {
	op := [...]string{"DOWN", "STARTING", "UP", "STOPPING"}
	word := "OP" + strconv.Itoa(s.OpState)
	if s.OpState >= 0 && s.OpState < len(op) {
		word = op[s.OpState]
	}
	switch {
	case s.maint():
		word += " MAINT"
	case s.AdminState&haAdminDrainMask != 0:
		word += " DRAIN"
	}
	return word
}

func (s haServer) backend() Backend {
	return Backend{
		Addr:    s.Addr.String(),
		Status:  s.status(),
		Enabled: s.enabled(),
		Up:      s.OpState == haOpRunning,
		Name:    s.id(),
	}
}

// parseServersState parses the answer of "show servers state": a version
// line ("1"), a "# " header naming the columns, then one row per server.
// Columns are looked up by name, so added columns do not break it.
func parseServersState(out string) ([]haServer, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), maxCLIAnswer)
	if !sc.Scan() || strings.TrimSpace(sc.Text()) != "1" {
		return nil, fmt.Errorf("unexpected answer (want state format version 1): %s", firstLine(out))
	}
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "# ") {
		return nil, fmt.Errorf("missing column header in: %s", firstLine(out))
	}
	cols := map[string]int{}
	for i, name := range strings.Fields(strings.TrimPrefix(sc.Text(), "# ")) {
		cols[name] = i
	}
	for _, need := range []string{"be_name", "srv_name", "srv_addr", "srv_port", "srv_op_state", "srv_admin_state", "srv_check_state"} {
		if _, ok := cols[need]; !ok {
			return nil, fmt.Errorf("column %s missing from the header", need)
		}
	}
	var servers []haServer
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseServerRow(strings.Fields(line), cols)
		if err != nil {
			return nil, fmt.Errorf("row %q: %w", line, err)
		}
		servers = append(servers, s)
	}
	return servers, sc.Err()
}

func parseServerRow(f []string, cols map[string]int) (haServer, error) {
	get := func(name string) string {
		if i := cols[name]; i < len(f) {
			return f[i]
		}
		return ""
	}
	var s haServer
	s.Backend, s.Name = get("be_name"), get("srv_name")
	if s.Backend == "" || s.Name == "" {
		return s, errors.New("short row")
	}
	ip, err := netip.ParseAddr(get("srv_addr"))
	if err != nil {
		return s, fmt.Errorf("srv_addr: %w", err)
	}
	port, err := strconv.ParseUint(get("srv_port"), 10, 16)
	if err != nil {
		return s, fmt.Errorf("srv_port: %w", err)
	}
	s.Addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))
	for _, v := range []struct {
		name string
		dst  *int
	}{{"srv_op_state", &s.OpState}, {"srv_admin_state", &s.AdminState}, {"srv_check_state", &s.CheckState}} {
		n, err := strconv.Atoi(get(v.name))
		if err != nil || n < 0 {
			return s, fmt.Errorf("%s: invalid %q", v.name, get(v.name))
		}
		*v.dst = n
	}
	return s, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
