package route

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestResolveAddr(t *testing.T) {
	tests := []struct {
		in, want, want4, err string // want4: ResolveIPv4Addr ("" = same as want); err: substring
	}{
		{in: "10.0.0.1:3306", want: "10.0.0.1:3306"},
		{in: "[::1]:3306", want: "[::1]:3306", want4: "error"},
		{in: "[::ffff:10.0.0.1]:3306", want: "10.0.0.1:3306"},
		{in: "localhost:3306", want: "127.0.0.1:3306"},
		{in: "127.0.0.1:65535", want: "127.0.0.1:65535"},
		{in: "127.0.0.1:1", want: "127.0.0.1:1"},
		{in: "127.0.0.1:0", err: "invalid port"},
		{in: "127.0.0.1:65536", err: "invalid port"},
		{in: "127.0.0.1:03306", err: "invalid port"},
		{in: "127.0.0.1:+1", err: "invalid port"},
		{in: "127.0.0.1:", err: "invalid port"},
		{in: "127.0.0.1", err: "missing port"},
		{in: "0.0.0.0:3306", err: "unspecified"},
		{in: "[fe80::1%eth0]:3306", err: "zone"},
		{in: "bad_host:3306", err: "neither an IP literal nor a DNS name"},
		{in: "a..b:3306", err: "neither"},
		{in: "-a.example:3306", err: "neither"},
		{in: "x'); DROP TABLE t; --:1", err: "neither"},
		{in: "host.invalid:3306", err: "resolving host.invalid"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ResolveAddr(ctx, tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ResolveAddr(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("ResolveAddr(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
			}
			got4, err := ResolveIPv4Addr(ctx, tc.in)
			if tc.want4 == "error" {
				if err == nil || !strings.Contains(err.Error(), "IPv4") {
					t.Fatalf("ResolveIPv4Addr(%q) = %v, %v; want an IPv4 error", tc.in, got4, err)
				}
				return
			}
			if err != nil || got4.String() != tc.want {
				t.Fatalf("ResolveIPv4Addr(%q) = %v, %v", tc.in, got4, err)
			}
		})
	}
}

// FuzzResolveAddr: whatever is accepted is an IP with a non-zero port
// whose text form is accepted again unchanged. The context is canceled so
// names are never looked up over the network.
func FuzzResolveAddr(f *testing.F) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := ResolveAddr(ctx, s)
		if err != nil {
			return
		}
		if !ap.IsValid() || ap.Port() == 0 || ap.Addr().Zone() != "" || ap.Addr().Is4In6() {
			t.Fatalf("ResolveAddr(%q) accepted %v", s, ap)
		}
		again, err := ResolveAddr(ctx, ap.String())
		if err != nil || again != ap {
			t.Fatalf("ResolveAddr(%q) = %v, then ResolveAddr(%q) = %v, %v", s, ap, ap.String(), again, err)
		}
	})
}
