package sandbox

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestServerArgs(t *testing.T) {
	in := &Instance{ServerID: 3, Port: 4321, Dir: "/s/db2", DataDir: "/s/db2/data", Socket: "/s/db2/data/mysqld.sock"}
	tests := []struct {
		name      string
		overrides map[string]string
		want      []string // must be present
		absent    []string // prefixes that must not be present
		wantErr   string
	}{
		{
			name: "defaults",
			want: []string{
				"--no-defaults", "--datadir=/s/db2/data", "--port=4321", "--bind-address=127.0.0.1",
				"--skip-name-resolve", "--server-id=3", "--log-bin=mysql-bin", "--binlog-format=ROW",
				"--binlog-row-image=FULL", "--binlog-row-metadata=FULL", "--gtid-strict-mode=ON",
				"--log-slave-updates=ON", "--report-host=127.0.0.1", "--report-port=4321",
				"--performance-schema=OFF",
			},
		},
		{
			name:      "override with dashes or underscores",
			overrides: map[string]string{"binlog-format": "STATEMENT", "binlog_row_image": "MINIMAL", "gtid_domain_id": "7"},
			want:      []string{"--binlog-format=STATEMENT", "--binlog-row-image=MINIMAL", "--gtid-domain-id=7"},
			absent:    []string{"--binlog-format=ROW", "--binlog-row-image=FULL"},
		},
		{
			name:      "drop log_bin",
			overrides: map[string]string{"log_bin": Drop},
			absent:    []string{"--log-bin"},
			want:      []string{"--binlog-format=ROW"},
		},
		{name: "bind address is fixed", overrides: map[string]string{"bind_address": "0.0.0.0"}, wantErr: "bind_address"},
		{name: "port is fixed", overrides: map[string]string{"port": "3306"}, wantErr: "port"},
		{name: "defaults file is fixed", overrides: map[string]string{"defaults-file": "/etc/my.cnf"}, wantErr: "defaults_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			norm := Options{Settings: tc.overrides}.settingsFor(0)
			args, err := serverArgs(in, norm)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if args[0] != "--no-defaults" {
				t.Errorf("first arg %q: mariadbd needs --no-defaults first", args[0])
			}
			for _, w := range tc.want {
				if !slices.Contains(args, w) {
					t.Errorf("missing %s in %v", w, args)
				}
			}
			for _, a := range args {
				for _, p := range tc.absent {
					if strings.HasPrefix(a, p) {
						t.Errorf("unexpected %s", a)
					}
				}
			}
		})
	}
}

func TestInstanceSettingsWin(t *testing.T) {
	o := Options{
		Settings:         map[string]string{"binlog_format": "MIXED", "max_connections": "50"},
		InstanceSettings: map[int]map[string]string{1: {"binlog-format": "STATEMENT"}},
	}
	if got := o.settingsFor(1)["binlog_format"]; got != "STATEMENT" {
		t.Errorf("replica 1 binlog_format = %q, want STATEMENT", got)
	}
	if got := o.settingsFor(0)["binlog_format"]; got != "MIXED" {
		t.Errorf("primary binlog_format = %q, want MIXED", got)
	}
	if got := o.settingsFor(1)["max_connections"]; got != "50" {
		t.Errorf("replica 1 max_connections = %q, want 50", got)
	}
}

func TestMissingBinaryHint(t *testing.T) {
	missing := binarySearch{"recoup-no-such-mariadbd", []string{"/nonexistent/mariadbd"}}
	_, err := findBinariesIn(missing, installDBSearch)
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
	for _, want := range []string{"apt-get install mariadb-server mariadb-client", "recoup-no-such-mariadbd"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	b, err := findBinaries()
	if err != nil {
		t.Fatalf("the real binaries: %v", err)
	}
	if b.mariadbd == "" || b.installDB == "" {
		t.Fatalf("found %+v", b)
	}
}
