package hook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Run drives one master failover and returns its summary. The order is
// the invariant "writes stay fenced until compensation and routing are
// done":
//
//  1. fence-new: read_only=ON on the new master, first thing (Orchestrator
//     may already have made it writable), and stop its replication threads;
//  2. fence-old, concurrently with 3: the proxy's writer is taken out of
//     rotation and the old master, if reachable, is made read-only and its
//     client connections killed (best effort, Budget.OldMasterTimeout);
//  3. lock: the cluster lock on the new master, held to the end; a run
//     that finds the recovery done (Runs) after waiting for it only
//     verifies, undoing its own fence if it closed an open master;
//  4. capture: the streamer is told and the capture log settles;
//  5. compensate: missing transactions are replayed (the report is
//     written when the run ends, with every step's timing);
//  6. route and verify: writes through the proxy reach the new master;
//  7. detach: RESET SLAVE ALL on the new master (failure is a warning);
//  8. unfence: read_only=OFF.
//
// Every step runs under the deadline (Budget.Deadline from the start).
// When compensation fails or the deadline expires, Budget.OnDeadline
// decides: stay fenced, or open writes anyway within Budget.Grace. A run
// that finds its recovery already done (Runs) verifies and changes
// nothing. Run returns only when every step it started has ended, within
// Budget.Limit() unless a dependency ignores its context.
func (s *Sequence) Run(parent context.Context) *Summary {
	s.Budget = s.Budget.WithDefaults()
	r := s.newRun()
	ctx, cancel := context.WithDeadline(parent, r.start.Add(s.Budget.Deadline))
	defer cancel()
	if prev := r.previous(); prev != nil {
		return r.verifyOnly(ctx, prev)
	}
	err := r.step(ctx, StepFenceNew, func(ctx context.Context) (string, error) {
		fi, err := s.New.Fence(ctx)
		r.sum.Fence = fi
		return fmt.Sprintf("was writable %v, was replicating %v", fi.WasWritable, fi.WasReplicating), err
	})
	if err != nil {
		r.sum.left("fence the new master %s by hand (SET GLOBAL read_only=ON) and rerun the hook", s.NewMaster)
		return r.finish(OutcomeFailed)
	}
	oldDone := r.fenceOld(ctx)
	if err := r.step(ctx, StepLock, r.takeLock); err != nil {
		r.joinOld(oldDone)
		if errors.Is(err, ErrLockTimeout) {
			r.sum.left("another hook still holds the cluster lock; the new master stays read-only until it ends")
		} else {
			r.sum.left("the cluster lock could not be taken; the new master stays read-only: rerun the hook")
		}
		return r.finish(OutcomeStayFenced)
	}
	defer r.unlock()
	if prev := r.previous(); prev != nil {
		r.joinOld(oldDone)
		return r.afterWinner(ctx, prev)
	}
	r.joinOld(oldDone)
	return r.open(ctx, parent, r.compensate(ctx))
}

func (s *Sequence) newRun() *run {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := s.Started
	if start.IsZero() {
		start = s.now()
	}
	r := &run{s: s, start: start, log: log.With("cluster", s.Cluster, "recovery", s.RecoveryUID)}
	b := s.Budget
	r.sum = &Summary{Cluster: s.Cluster, RecoveryUID: s.RecoveryUID, OldMaster: s.OldMaster, NewMaster: s.NewMaster,
		Trigger: s.Trigger, Started: r.start, Deadline: b.Deadline.String(), OnDeadline: string(b.OnDeadline)}
	return r
}

// oldResult is the fence-old step's outcome, handed back to Run's
// goroutine so that the summary is only written there.
type oldResult struct {
	fence OldFence
	step  Step
	warns []string
}

// fenceOld fences the proxy's writer and the old master in the
// background, best effort.
func (r *run) fenceOld(ctx context.Context) <-chan oldResult {
	done := make(chan oldResult, 1)
	go func() {
		t := r.s.now()
		var res oldResult
		if r.s.Route != nil {
			if err := r.s.Route.FenceWriter(ctx); err != nil {
				res.warns = append(res.warns, "fencing the proxy's writer: "+err.Error())
			}
		}
		if r.s.Old != nil {
			octx, cancel := shortCtx(ctx, r.s.Budget.OldMasterTimeout)
			f, err := r.s.Old.Fence(octx)
			cancel()
			if err != nil {
				f.Error = err.Error()
			}
			res.fence = f
		}
		note := fmt.Sprintf("reached %v, killed %d", res.fence.Reached, res.fence.Killed)
		if res.fence.Error != "" {
			note += ", " + res.fence.Error
		}
		res.step = Step{Name: StepFenceOld, StartMS: ms(t.Sub(r.start)), TookMS: ms(r.s.now().Sub(t)), Note: note}
		done <- res
	}()
	return done
}

func (r *run) joinOld(done <-chan oldResult) {
	res := <-done
	r.sum.OldFence = res.fence
	r.sum.Steps = append(r.sum.Steps, res.step)
	r.sum.Warnings = append(r.sum.Warnings, res.warns...)
	r.log.Info("step done", "step", StepFenceOld, "took_ms", res.step.TookMS, "note", res.step.Note)
}

func (r *run) takeLock(ctx context.Context) (string, error) {
	l, err := r.s.New.Lock(ctx, r.s.Budget.LockTimeout)
	if err != nil {
		return "", err
	}
	r.lock = l
	return "held", nil
}

func (r *run) unlock() {
	if r.lock == nil {
		return
	}
	if err := r.lock.Release(); err != nil {
		r.log.Warn("releasing the cluster lock", "err", err) // the connection's end frees it
	}
}

// compensate runs the capture and compensate steps; nil means every
// captured transaction the new master lacked was decided.
func (r *run) compensate(ctx context.Context) error {
	if r.s.Capture != nil {
		err := r.step(ctx, StepCapture, func(ctx context.Context) (string, error) {
			info, err := r.s.Capture.Settle(ctx, r.sum.OldFence)
			r.sum.Capture = info
			return info.String(), err
		})
		if err != nil {
			return err
		}
	}
	return r.step(ctx, StepCompensate, func(ctx context.Context) (string, error) {
		res, err := r.s.Compensator.Compensate(ctx)
		r.sum.Result = res
		if err != nil {
			return "", err
		}
		r.sum.Compensated, r.sum.CompensatedAt = true, r.s.now()
		if res == nil {
			return "", nil
		}
		n := res.Counts
		return fmt.Sprintf("missing %d, applied %d, conflicts %d", n.Missing, n.Applied+n.Overwritten, n.Conflicts), nil
	})
}

// open routes and opens writes once compensation is done, or after it
// failed when the policy says open-writes. With open-writes, the steps
// that open writes run within Budget.Grace when the deadline has expired
// (or expires while they run).
func (r *run) open(ctx, parent context.Context, compErr error) *Summary {
	openWrites := r.s.Budget.OnDeadline == OpenWrites
	if compErr != nil {
		r.sum.DeadlineExpired = isDeadline(ctx, compErr)
		if !openWrites {
			r.sum.left("compensation did not finish (%v): the new master %s stays read-only; run `recoup compensate` for "+
				"cluster %s, then open writes and switch the proxy, or rerun the hook", compErr, r.s.NewMaster, r.s.Cluster)
			return r.finish(OutcomeStayFenced)
		}
		r.sum.warn("on_deadline open-writes: opening writes although compensation did not finish")
		r.sum.left("replay the transactions compensation did not reach: `recoup compensate --allow-writable` for cluster %s",
			r.s.Cluster)
	}
	inGrace := compErr != nil || ctx.Err() != nil
	octx, cancel := ctx, context.CancelFunc(func() {})
	if inGrace {
		octx, cancel = r.graceCtx(parent)
	}
	err := r.openWrites(octx)
	cancel()
	if err != nil && !inGrace && isDeadline(ctx, err) {
		r.sum.DeadlineExpired = true
		if openWrites {
			r.sum.warn("the deadline expired while opening writes; on_deadline open-writes: retrying within the grace period")
			gctx, gcancel := r.graceCtx(parent)
			err = r.openWrites(gctx)
			gcancel()
		}
	}
	if err != nil {
		r.sum.left("writes are not open: the proxy may not route to %s, which stays read-only (%v)", r.s.NewMaster, err)
		return r.finish(OutcomeStayFenced)
	}
	r.opened()
	if compErr != nil {
		return r.finish(OutcomeOpenedUncompensated)
	}
	return r.finish(OutcomeDone)
}

// openWrites switches and verifies the route, detaches the new master
// from its old replication (a failure is only noted) and unfences it.
func (r *run) openWrites(ctx context.Context) error {
	if err := r.route(ctx); err != nil {
		return err
	}
	err := r.step(ctx, StepDetach, func(ctx context.Context) (string, error) {
		was, err := r.s.New.Detach(ctx)
		return fmt.Sprintf("had replication configured: %v", was), err
	})
	if err != nil {
		r.sum.left("RESET SLAVE ALL on %s: %v", r.s.NewMaster, err)
	}
	return r.step(ctx, StepUnfence, func(ctx context.Context) (string, error) { return "", r.s.New.Unfence(ctx) })
}

// route switches the proxy and verifies the write path.
func (r *run) route(ctx context.Context) error {
	if r.s.Route == nil {
		r.sum.warn("no proxy configured: clients must find the new master by themselves")
		return nil
	}
	err := r.step(ctx, StepRoute, func(ctx context.Context) (string, error) { return "", r.s.Route.Switch(ctx) })
	if err != nil {
		return err
	}
	return r.step(ctx, StepVerify, func(ctx context.Context) (string, error) {
		how, err := r.s.Route.Verify(ctx, r.sum.Fence.Identity)
		r.sum.Verified = how
		return how, err
	})
}

func (r *run) opened() {
	now := r.s.now()
	r.sum.WritesOpen, r.sum.WritesOpenedAt, r.sum.WritesOpenMS = true, now, ms(now.Sub(r.start))
	r.log.Info("writes open", "new_master", r.s.NewMaster, "writes_open_ms", r.sum.WritesOpenMS)
}

// finish sets the outcome, writes the report (when compensation ran) and
// saves the run record, in that order: a lock loser reads the record.
func (r *run) finish(o Outcome) *Summary {
	r.sum.Outcome = o
	r.sum.DurationS = r.since().Seconds()
	if r.sum.Result != nil {
		paths, err := r.s.Compensator.WriteReport(r.sum)
		r.sum.Reports = paths
		if err != nil {
			r.sum.warn("writing the report: %v", err)
		}
	}
	r.save()
	return r.sum
}

// afterWinner is the lock loser's path: another run did the work while
// this one waited. If this run closed an open master, it reopens it.
func (r *run) afterWinner(ctx context.Context, prev *Summary) *Summary {
	r.sum.warn("another hook run completed this recovery while this one waited for the lock")
	if r.sum.Fence.WasWritable {
		err := r.step(ctx, StepUnfence, func(ctx context.Context) (string, error) {
			return "undoing this run's fence", r.s.New.Unfence(ctx)
		})
		if err != nil {
			r.sum.left("open writes on %s by hand (SET GLOBAL read_only=OFF)", r.s.NewMaster)
		}
	}
	return r.verifyOnly(ctx, prev)
}

// verifyOnly is a rerun: the recovery was done; check that the new master
// is open and the route reaches it, change nothing.
func (r *run) verifyOnly(ctx context.Context, prev *Summary) *Summary {
	first := *prev
	first.FirstRun = nil
	r.sum.Rerun, r.sum.FirstRun, r.sum.Compensated = true, &first, prev.Compensated
	r.sum.Fence, r.sum.Result, r.sum.Reports = prev.Fence, prev.Result, prev.Reports
	r.sum.Outcome = OutcomeAlreadyDone
	err := r.step(ctx, StepVerify, func(ctx context.Context) (string, error) {
		w, err := r.s.New.Writable(ctx)
		if err != nil {
			return "", err
		}
		if !w {
			return "", errors.New("the new master is read-only")
		}
		if r.s.Route == nil {
			return "new master writable; no proxy configured", nil
		}
		id, err := r.s.New.Identity(ctx)
		if err != nil {
			return "", err
		}
		how, err := r.s.Route.Verify(ctx, id)
		r.sum.Verified = how
		return how, err
	})
	r.sum.WritesOpen = err == nil
	if err != nil {
		r.sum.Outcome = OutcomeFailed
	}
	r.sum.DurationS = r.since().Seconds()
	return r.sum
}
