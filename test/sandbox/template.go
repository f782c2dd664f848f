package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// InstallHint tells how to get the server binaries on Debian/Ubuntu.
const InstallHint = "apt-get install mariadb-server mariadb-client"

// ErrNotInstalled is wrapped by Launch's error when mariadbd or
// mariadb-install-db cannot be found.
var ErrNotInstalled = errors.New("MariaDB server binaries not found (install them: " + InstallHint + ")")

// templateLogFileSize is the redo log size of the template and the default
// of every instance, so a copied datadir starts without resizing its log.
const templateLogFileSize = "8M"

// templateFormat changes whenever the template's contents change, so stale
// cached templates are not reused.
const templateFormat = "v1"

type binaries struct {
	mariadbd  string
	installDB string
}

// binarySearch is where to look for one program: PATH, then fallbacks
// (the Debian locations: /usr/sbin is often missing from a test's PATH).
type binarySearch struct {
	name      string
	fallbacks []string
}

var (
	mariadbdSearch  = binarySearch{"mariadbd", []string{"/usr/sbin/mariadbd", "/usr/bin/mariadbd", "/usr/libexec/mariadbd"}}
	installDBSearch = binarySearch{"mariadb-install-db", []string{"/usr/bin/mariadb-install-db", "/usr/sbin/mariadb-install-db"}}
)

// findBinaries locates mariadbd and mariadb-install-db.
func findBinaries() (binaries, error) { return findBinariesIn(mariadbdSearch, installDBSearch) }

func findBinariesIn(server, install binarySearch) (binaries, error) {
	d, err1 := lookBinary(server.name, server.fallbacks...)
	i, err2 := lookBinary(install.name, install.fallbacks...)
	if err := errors.Join(err1, err2); err != nil {
		return binaries{}, fmt.Errorf("%w: %w", ErrNotInstalled, err)
	}
	return binaries{mariadbd: d, installDB: i}, nil
}

func lookBinary(name string, fallbacks ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, p := range fallbacks {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not on PATH nor in %v", name, fallbacks)
}

// templateKey identifies the template a given pair of binaries produces.
func templateKey(b binaries) (string, error) {
	h := sha256.New()
	for _, p := range []string{b.mariadbd, b.installDB} {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("stat %s: %w", p, err)
		}
		fmt.Fprintf(h, "%s|%d|%d|", p, st.Size(), st.ModTime().UnixNano())
	}
	fmt.Fprintf(h, "%s|%d", templateFormat, os.Geteuid())
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func templateRoot() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "recoup-sandbox")
	}
	return filepath.Join(os.TempDir(), "recoup-sandbox-"+strconv.Itoa(os.Geteuid()))
}

// ensureTemplate returns a datadir initialized by mariadb-install-db,
// making it on first use. It is cached across processes: made in a
// private directory and renamed into place, so concurrent test processes
// never see a half-made template.
func ensureTemplate(ctx context.Context, b binaries) (string, error) {
	key, err := templateKey(b)
	if err != nil {
		return "", err
	}
	root := templateRoot()
	final := filepath.Join(root, "template-"+key)
	if st, err := os.Stat(filepath.Join(final, "mysql")); err == nil && st.IsDir() {
		return final, nil
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("creating template cache %s: %w", root, err)
	}
	tmp, err := os.MkdirTemp(root, "tmp-")
	if err != nil {
		return "", fmt.Errorf("creating template work dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	data := filepath.Join(tmp, "data")
	if err := installDB(ctx, b, data); err != nil {
		return "", err
	}
	if err := os.Rename(data, final); err != nil {
		// Another process won the race: use its template.
		if st, serr := os.Stat(filepath.Join(final, "mysql")); serr == nil && st.IsDir() {
			return final, nil
		}
		return "", fmt.Errorf("moving template into %s: %w", final, err)
	}
	return final, nil
}

func installDB(ctx context.Context, b binaries, datadir string) error {
	args := []string{
		"--no-defaults",
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		"--datadir=" + datadir,
		"--innodb-log-file-size=" + templateLogFileSize,
		"--innodb-buffer-pool-size=64M",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	cmd := exec.CommandContext(ctx, b.installDB, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running %s: %w\n%s", b.installDB, err, tail(out.Bytes(), 2048))
	}
	return nil
}

// copyDatadir copies the template into dst (which must not exist),
// keeping modes. The InnoDB files are mostly zeros: copying them sparse
// writes a quarter of the bytes.
func copyDatadir(ctx context.Context, template, dst string) error {
	out, err := exec.CommandContext(ctx, "cp", "-a", "--sparse=always", template, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copying template datadir to %s: %w: %s", dst, err, bytes.TrimSpace(out))
	}
	return nil
}

// tail returns at most the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
