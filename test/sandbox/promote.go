package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/recoup-dev/recoup/repl"
)

// relayDrainTimeout bounds the wait for replicas to apply their relay logs
// before a promotion, as Orchestrator does before picking a candidate.
const relayDrainTimeout = 10 * time.Second

// Promote fails over the way Orchestrator does for a dead primary: let
// every running replica apply what it already received, stop replication
// on all of them, pick the most advanced by gtid_current_pos, make it a
// writable primary (STOP SLAVE; RESET SLAVE ALL; read_only=OFF) and repoint
// the others to it with MASTER_USE_GTID=slave_pos. It does not touch the
// old primary, which should be dead or fenced. It returns the new primary.
func (t *Topology) Promote(ctx context.Context) (*Instance, error) {
	cands, err := t.stopAllReplicas(ctx)
	if err != nil {
		return nil, err
	}
	best, err := mostAdvanced(ctx, cands)
	if err != nil {
		return nil, err
	}
	return best, t.PromoteTo(ctx, best)
}

// PromoteTo makes the given replica the primary and repoints the other
// running replicas to it, even if it is not the most advanced (a test can
// so force a lossy failover). Replicas more advanced than it will fail to
// replicate under gtid_strict_mode; that error is returned.
func (t *Topology) PromoteTo(ctx context.Context, next *Instance) error {
	idx := -1
	for i, r := range t.Replicas {
		if r == next {
			idx = i
		}
	}
	if idx < 0 {
		return fmt.Errorf("promoting %s: not a replica of this topology", next.Name)
	}
	for _, q := range []string{"STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = OFF"} {
		if _, err := next.Exec(ctx, q); err != nil {
			return fmt.Errorf("promoting %s: %w", next.Name, err)
		}
	}
	old := t.Primary
	rest := make([]*Instance, 0, len(t.Replicas)-1)
	rest = append(rest, t.Replicas[:idx]...)
	rest = append(rest, t.Replicas[idx+1:]...)
	t.Primary, t.Replicas, t.Former = next, rest, append(t.Former, old)
	t.log.Info("promoted", "host", next.Addr(), "old", old.Addr())
	var errs []error
	for _, r := range rest {
		if r.Running() {
			errs = append(errs, r.ReplicateFrom(ctx, next))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("repointing replicas to %s: %w", next.Name, err)
	}
	return nil
}

// stopAllReplicas waits (bounded) for each running replica to apply its
// relay log, then stops its replication. It returns the running replicas.
func (t *Topology) stopAllReplicas(ctx context.Context) ([]*Instance, error) {
	var cands []*Instance
	for _, r := range t.Replicas {
		if r.Running() {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return nil, errors.New("promoting: no running replica")
	}
	err := eachParallel(cands, func(r *Instance) error {
		if err := r.drainRelayLog(ctx); err != nil {
			r.log.Warn("relay log not drained before promotion", "host", r.Addr(), "err", err)
		}
		return r.StopReplication(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("promoting: stopping replication: %w", err)
	}
	return cands, nil
}

// drainRelayLog waits until the SQL thread has executed everything the IO
// thread read, or the SQL thread stopped.
func (in *Instance) drainRelayLog(ctx context.Context) error {
	return poll(ctx, relayDrainTimeout, func(ctx context.Context) (bool, error) {
		st, err := in.ReplicaStatus(ctx)
		if err != nil {
			return false, err
		}
		return st.RelayApplied || st.SQLRunning != "Yes", nil
	})
}

// mostAdvanced picks the replica whose gtid_current_pos contains every
// other's; if none does (diverged sets), the one with the most GTIDs. Ties
// go to the lowest index.
func mostAdvanced(ctx context.Context, cands []*Instance) (*Instance, error) {
	pos := make([]repl.GTIDSet, len(cands))
	for i, c := range cands {
		p, err := c.GTIDCurrentPos(ctx)
		if err != nil {
			return nil, fmt.Errorf("promoting: %w", err)
		}
		pos[i] = p
	}
	for i := range cands {
		all := true
		for j := range cands {
			all = all && pos[j].Subset(pos[i])
		}
		if all {
			return cands[i], nil
		}
	}
	best := 0
	for i := range cands {
		if pos[i].Count() > pos[best].Count() {
			best = i
		}
	}
	return cands[best], nil
}
