package main

import (
	"context"
	"fmt"
	"strconv"
)

// semiSyncMaster turns the primary's semi-synchronous replication on (it
// waits up to 10 s for a semi-synchronous replica's acknowledgement of
// each commit, and not at all while none is connected) or off.
func (e *env) semiSyncMaster(ctx context.Context, on bool) error {
	qs := []string{"SET GLOBAL rpl_semi_sync_master_enabled = OFF"}
	if on {
		qs = []string{"SET GLOBAL rpl_semi_sync_master_wait_no_slave = OFF", "SET GLOBAL rpl_semi_sync_master_timeout = 10000",
			"SET GLOBAL rpl_semi_sync_master_wait_point = 'AFTER_SYNC'", "SET GLOBAL rpl_semi_sync_master_enabled = ON"}
	}
	for _, q := range qs {
		if _, err := e.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// semiSyncCounts reads the primary's counts of commits a semi-synchronous
// replica acknowledged (yes) and of commits it stopped waiting for (no).
func (e *env) semiSyncCounts(ctx context.Context) (yes, no int64, err error) {
	read := func(name string) (int64, error) {
		var v string
		err := e.db.QueryRowContext(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = ?", name).Scan(&v)
		if err != nil {
			return 0, fmt.Errorf("reading %s: %w", name, err)
		}
		return strconv.ParseInt(v, 10, 64)
	}
	if yes, err = read("RPL_SEMI_SYNC_MASTER_YES_TX"); err != nil {
		return 0, 0, err
	}
	no, err = read("RPL_SEMI_SYNC_MASTER_NO_TX")
	return yes, no, err
}
