package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// minShmFree is the free space /dev/shm needs to hold sandbox datadirs.
const minShmFree = 2 << 30

const tmpfsMagic = 0x01021994

// scratchPrefix names temporary sandbox roots; ownerFile in each holds the
// pid of the process that made it.
const (
	scratchPrefix = "rs"
	ownerFile     = "owner"
)

// scratchParent is where temporary sandboxes go: /dev/shm when it is a
// roomy tmpfs (copying a datadir and starting a server there is several
// times faster than on a busy disk, and the data is thrown away anyway),
// else the default temporary directory.
func scratchParent() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != tmpfsMagic {
		return os.TempDir()
	}
	if st.Bavail*uint64(st.Bsize) < minShmFree || syscall.Access("/dev/shm", 2 /* W_OK */) != nil {
		return os.TempDir()
	}
	return "/dev/shm"
}

// makeScratchRoot creates a temporary sandbox root owned by this process,
// first removing roots left by processes that died without cleaning up (a
// test binary killed by -timeout runs no t.Cleanup; on tmpfs that would
// leak memory).
func makeScratchRoot() (string, error) {
	parent := scratchParent()
	reapScratch(parent)
	d, err := os.MkdirTemp(parent, scratchPrefix)
	if err != nil {
		return "", fmt.Errorf("creating sandbox directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return "", fmt.Errorf("recording sandbox owner: %w", err)
	}
	return d, nil
}

// reapScratch removes sandbox roots in parent whose owner process is gone
// and in which no server still runs. Failures are ignored: reaping is best
// effort and never touches a live sandbox.
func reapScratch(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), scratchPrefix) {
			continue
		}
		root := filepath.Join(parent, e.Name())
		if abandoned(root) {
			_ = os.RemoveAll(root) // best effort, see above
		}
	}
}

func abandoned(root string) bool {
	b, err := os.ReadFile(filepath.Join(root, ownerFile))
	if err != nil {
		// Not ours, or being created right now: leave it.
		return false
	}
	owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pidAlive(owner) {
		return false
	}
	pidFiles, _ := filepath.Glob(filepath.Join(root, "*", "data", "mariadbd.pid"))
	for _, pf := range pidFiles {
		pb, err := os.ReadFile(pf)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(pb)))
		if err == nil && pidAlive(pid) && isOurServer(pid, filepath.Dir(pf)) {
			return false
		}
	}
	return true
}
