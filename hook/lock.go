package hook

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"
)

// maxLockName is MySQL's limit on GET_LOCK names (MariaDB has none).
const maxLockName = 64

// LockName is the cluster lock's name: "recoup:" and the cluster's
// SafeName, shortened with a digest when it would pass 64 characters.
func LockName(cluster string) string {
	n := "recoup:" + SafeName(cluster)
	if len(n) <= maxLockName {
		return n
	}
	sum := sha256.Sum256([]byte(cluster))
	d := hex.EncodeToString(sum[:8])
	return n[:maxLockName-len(d)-1] + "~" + d
}

// ErrLockTimeout is returned when another hook held the cluster lock for
// the whole wait.
var ErrLockTimeout = errors.New("cluster lock held by another hook")

// ClusterLock is a GET_LOCK named lock held on one dedicated connection
// of the new master: the server releases it when the connection ends, so
// a hook that dies cannot leave it held.
type ClusterLock struct {
	name string
	conn *sql.Conn
}

// AcquireLock waits up to timeout (and at most until ctx ends) for the
// named lock on db. It returns ErrLockTimeout when another session held it
// throughout.
func AcquireLock(ctx context.Context, db *sql.DB, name string, timeout time.Duration) (*ClusterLock, error) {
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	secs := max(0, int64(math.Ceil(timeout.Seconds())))
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting for lock %s: %w", name, err)
	}
	var got sql.NullInt64
	err = conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, secs).Scan(&got)
	switch {
	case err != nil:
		conn.Close() // the server drops the lock with the connection
		return nil, fmt.Errorf("GET_LOCK(%s): %w", name, err)
	case !got.Valid:
		conn.Close()
		return nil, fmt.Errorf("GET_LOCK(%s) failed", name)
	case got.Int64 != 1:
		conn.Close()
		return nil, fmt.Errorf("%w: %s after %s", ErrLockTimeout, name, timeout.Round(time.Millisecond))
	}
	return &ClusterLock{name: name, conn: conn}, nil
}

// Release frees the lock and its connection. It runs with its own short
// timeout so that it works after the hook's deadline; closing the
// connection frees the lock even if RELEASE_LOCK cannot run.
func (l *ClusterLock) Release() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var rel sql.NullInt64
	err := l.conn.QueryRowContext(ctx, "SELECT RELEASE_LOCK(?)", l.name).Scan(&rel)
	if cerr := l.conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("releasing lock %s: %w", l.name, err)
	}
	return nil
}
