package capture

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrLocked is returned by OpenLocal when another writer holds the
// directory's lock.
var ErrLocked = errors.New("capture store locked by another writer")

// lockDir takes the exclusive, non-blocking flock on dir/LOCK and writes
// the owner's pid into it for the next opener's error message. The lock
// lasts until the returned file is closed or the process exits.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("capture store %s: open lock file: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path) // best effort, for the message only
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("capture store %s: %w (%s); open it read-only to read",
				dir, ErrLocked, strings.TrimSpace(string(owner)))
		}
		return nil, fmt.Errorf("capture store %s: lock %s: %w", dir, path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = fmt.Fprintf(f, "held by pid %d\n", os.Getpid()) // informative only
	}
	return f, nil
}
