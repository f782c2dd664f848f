// Package conflict is the pure decision logic of compensation: given the
// transactions the new master misses (in the old master's commit order) and
// the rows the new master holds now, it decides, transaction by
// transaction, whether to replay it, skip it as already applied, or skip
// and report it as a conflict. It does no I/O, reads no clock and talks to
// no database: the applier fetches rows and executes the plan.
//
// # Use
//
//	st, err := conflict.NewState(policy)          // one per compensation run
//	for each batch of txns, in commit order {
//		need := st.NeededKeys(batch)              // []Fetch: per table, key images
//		cur := fetch(need)                        // Current: rows by table name
//		plan, err := st.Decide(batch, cur)        // Plan: one TxnDecision per txn
//		execute(plan)                             // Apply / ApplyOverwrite only
//	}
//
// DecideFetched(batch, need, cur) is Decide without listing the keys a
// second time; DecideEach also hands out each transaction's decision as
// soon as it is made, so the caller can apply it while the rest of the
// batch is decided (not under policy abort, whose last conflict can
// overturn the decisions already made). A KeyLister lists the keys of the
// batches ahead, in another goroutine, exactly as the State would. A
// caller that executes each plan before fetching the next batch calls
// Executed after it: the State then forgets the simulated effects the
// fetched rows now show (they otherwise grow with every applied row).
//
// Fetching: one SELECT per table per batch, returning every row that matches
// any image of any KeySet of the Fetch (WHERE (pk) IN (...) OR (uk) IN
// (...)), each physical row once, columns in Fetch.Table order. A WholeRow
// set (tables with no usable key) must match NULL-safely and return every
// identical row. Returning more rows (even the whole table) is harmless.
// The State carries the simulated effects of planned transactions from
// batch to batch, so the applier may execute each plan before fetching the
// next batch or plan every batch first: the decisions are the same.
//
// # Rules (per row)
//
// The current row is the one at the change's key in the simulated view: the
// new master's rows overlaid with the effects of every transaction decided
// apply so far (and of the earlier changes of the same transaction).
//
//	change           current row                       verdict
//	UPDATE, DELETE   equals the before-image           apply
//	UPDATE           equals the after-image            already applied
//	DELETE           absent                            already applied
//	UPDATE, DELETE   anything else                     conflict
//	INSERT           absent                            apply
//	INSERT           equals the after-image            already applied
//	INSERT           a different row with that key     conflict
//
// An INSERT or UPDATE whose after-image carries a unique key value (no
// column NULL) held by another row conflicts, as does an UPDATE that moves
// a row to a key another row holds; an UPDATE that moves a row is already
// applied when its after-image is at the new key and the old key is free.
// Comparisons are repl.Value.Equal: typed, floats by bits (-0 is not +0),
// temporal values by their canonical text. The identity of a row is its
// Table.KeyColumns() (see KeyOf).
//
// Tables without a primary key or NOT NULL unique key are a multiset of
// whole rows: a change acts on the number of rows identical to an image.
// DELETE and UPDATE apply when at least one row equals the before-image and
// remove one of them; DELETE is already applied when none does; UPDATE is
// already applied when none equals the before-image but one equals the
// after-image, else it conflicts. INSERT always applies (adds one row, even
// when k identical rows exist: the GTID says the transaction is missing and
// a duplicate row cannot be told from the same row inserted again), unless
// it takes a unique value. In a transaction with other rows the ambiguous
// rows side with the rest (see below).
//
// # Rules (per transaction)
//
// A transaction is applied whole or not at all. It is checked twice: a
// forward pass applies its changes in order on a scratch view, each
// checked against the state the previous ones left; it is Apply when every
// change passes. Otherwise a backward pass undoes its changes from the last
// one, each checked against the state it leaves; it is AlreadyApplied when
// every change passes (so a transaction that inserts then updates one row is
// already applied when the row holds the final image). Otherwise it is a
// Conflict, and each row gets its own verdict (apply, already-applied,
// conflict); if no row conflicts but some are applied and others are not,
// the transaction is "partially applied", also a Conflict. A transaction
// with no row changes and no statements is Apply (it is replayed empty to
// record its GTID). A transaction with statements that are not row changes
// (DDL, statement-format DML) cannot be checked: Conflict.
//
// A transaction touching a row (same table and identity key, in its before-
// or after-image) of a skipped transaction is a Conflict "depends on GTID
// x", with DependsOn set to the nearest such transaction; skipping it in
// turn makes its own rows taint later transactions. Unique values are not
// tracked this way: a value a skipped transaction would have freed is still
// held on the new master, so a later transaction taking it conflicts by the
// unique key rule. Changes to a table
// whose schema (columns, types, keys) differs from the one first seen in the
// run are conflicts under every policy: images of two schemas cannot be
// compared.
//
// # Policies
//
//   - report (default): Apply and AlreadyApplied as above; conflicting
//     transactions are skipped (Conflict) and reported.
//   - source-wins: a conflicting transaction is applied anyway, verdict
//     ApplyOverwrite with its Reason kept. Its rows are re-planned in
//     order: a row that applies cleanly is Apply; a row already in its end
//     state is AlreadyApplied (skip it); any other row is ApplyOverwrite,
//     meaning "make the after-image the row's end state": an UPDATE or
//     DELETE first deletes the row at its before-image's key whatever it
//     holds (in a keyless table: one row equal to the before-image, if
//     any); an INSERT or UPDATE then REPLACEs its after-image, which
//     deletes every row holding its key or one of its unique values. So an
//     UPDATE of an absent row inserts its after-image, and a DELETE of a
//     different row deletes it. A transaction with a change blocked by a
//     dependency or a schema change stays Conflict (skipped).
//   - abort: decided as report; if any transaction conflicts, every
//     transaction not AlreadyApplied becomes Aborted, and so do all
//     transactions of later batches. To abort across batches, plan every
//     batch before executing any and call Plan.Abort on the earlier plans
//     when State.FirstConflict reports one (or decide all in one batch).
//
// # Executing a plan
//
// Replay the transactions whose verdict is Apply or ApplyOverwrite, in
// order, each as one transaction; skip the others. Within them, skip the
// AlreadyApplied rows; an Apply row is the change as captured (UPDATE and
// DELETE locate the row by the before-image's key, or in a keyless table by
// a NULL-safe match of every column, one row); an ApplyOverwrite row is
// executed as described under source-wins.
//
// # Main types
//
//   - State: one run's memory; NeededKeys and Decide (DecideFetched, DecideEach).
//   - Fetch, KeySet: what to read from the new master; Current: what was read.
//   - Plan, TxnDecision, RowDecision, Verdict: the decisions. They marshal to
//     JSON for the DBA report with lower-case names: plan {policy, txns},
//     txn {gtid, verdict, reason, depends_on, rows}, row {index, table,
//     change, key, verdict, reason, current (object of column name to value
//     text, null for NULL), diff_columns (column names)}. The JSON is a
//     report, not meant to be read back.
//   - Key, KeyOf: the canonical binary encoding of typed key values.
//
// What it does not do: fetch rows, build or run SQL, or know about
// collations: keys compare by exact bytes, so two keys a case-insensitive
// collation calls equal are different rows here (the applier will get a
// duplicate-key error for them). Rows of a transaction decided Apply that
// then fails to execute void the State's later decisions.
package conflict
