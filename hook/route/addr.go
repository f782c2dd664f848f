package route

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ResolveAddr validates "host:port" and returns it with the host as an IP:
// an IP literal is taken as is (IPv4-mapped IPv6 becomes IPv4, zones are
// refused); a DNS name is resolved, preferring its first IPv4 address.
// The port must be 1-65535.
func ResolveAddr(ctx context.Context, s string) (netip.AddrPort, error) {
	return resolveAddr(ctx, s, false)
}

// ResolveIPv4Addr is ResolveAddr for proxies that take IPv4 only
// (DBProxy): a name must resolve to an IPv4 address.
func ResolveIPv4Addr(ctx context.Context, s string) (netip.AddrPort, error) {
	return resolveAddr(ctx, s, true)
}

func resolveAddr(ctx context.Context, s string, v4only bool) (netip.AddrPort, error) {
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", s, err)
	}
	port, err := parsePort(portText)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", s, err)
	}
	ip, err := hostIP(ctx, host, v4only)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", s, err)
	}
	return netip.AddrPortFrom(ip, port), nil
}

// parsePort accepts decimal 1-65535 without sign or leading zeros.
func parsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 || s[0] == '0' || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return uint16(n), nil
}

func hostIP(ctx context.Context, host string, v4only bool) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		switch {
		case ip.Zone() != "":
			return netip.Addr{}, fmt.Errorf("IPv6 zone %q not supported", ip.Zone())
		case ip.IsUnspecified():
			return netip.Addr{}, fmt.Errorf("unspecified address %s", ip)
		case v4only && !ip.Is4():
			return netip.Addr{}, fmt.Errorf("%s is not an IPv4 address (the proxy takes IPv4 only)", ip)
		}
		return ip, nil
	}
	if !validHostname(host) {
		return netip.Addr{}, fmt.Errorf("invalid host %q: neither an IP literal nor a DNS name", host)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolving %s: %w", host, err)
	}
	return pickIP(host, ips, v4only)
}

func pickIP(host string, ips []netip.Addr, v4only bool) (netip.Addr, error) {
	var v6 netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		if ip.Is4() && !ip.IsUnspecified() {
			return ip, nil
		}
		if !v6.IsValid() && ip.Is6() && ip.Zone() == "" && !ip.IsUnspecified() {
			v6 = ip
		}
	}
	if v6.IsValid() && !v4only {
		return v6, nil
	}
	if v4only {
		return netip.Addr{}, fmt.Errorf("%s has no IPv4 address (the proxy takes IPv4 only)", host)
	}
	return netip.Addr{}, fmt.Errorf("%s resolved to no usable address", host)
}

// validHostname accepts RFC 1123 names: labels of letters, digits and
// hyphens, not starting or ending with a hyphen, at most 253 characters.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// resolveAll resolves every address, keeping order and refusing duplicates.
func resolveAll(ctx context.Context, addrs []string, v4only bool) ([]netip.AddrPort, error) {
	out := make([]netip.AddrPort, 0, len(addrs))
	seen := make(map[netip.AddrPort]bool, len(addrs))
	for _, a := range addrs {
		ap, err := resolveAddr(ctx, a, v4only)
		if err != nil {
			return nil, err
		}
		if seen[ap] {
			return nil, fmt.Errorf("address %q listed twice (as %s)", a, ap)
		}
		seen[ap] = true
		out = append(out, ap)
	}
	return out, nil
}

// normalizeReported puts an address the proxy reported in the form
// validated addresses have (IPv4-mapped IPv6 unmapped), so they compare.
func normalizeReported(s string) string {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return s
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}
