// Package report writes the DBA's conflict report of a compensation run
// and reads it back for `recoup review`.
//
//	jsonPath, htmlPath, err := report.Write(dir, res, report.Meta{...})
//
// Write turns an applier.Result (plus what the caller knows of the
// failover: recovery UID, old and new master, times, the hook's steps)
// into two files named <cluster>-<UTC timestamp>-<8 hex id>:
//
//   - .json: the Report, schema "recoup.report/v1", documented field by
//     field in SCHEMA.md. Every row value is exact (repl.Value JSON: kind
//     plus text, or hex for bytes that are not UTF-8 text), and each
//     conflict row points at the captured definition of its table, so
//     review can rebuild the transaction (Report.Txn) without the capture
//     log, which retention may have purged by then.
//   - .html: one self-contained page (inline CSS, no script, a
//     Content-Security-Policy that forbids loading anything) built with
//     html/template, so row values, which are untrusted data, are escaped.
//     It shows the summary (counts, timings, capture status, GTID sets,
//     collisions, new GTIDs), then per conflict the transaction, each row's
//     before, after and current images side by side with the differing
//     columns highlighted, the decision, and the SQL a DBA could run by
//     hand (ScriptFor).
//
// That SQL is the only place recoup renders values as SQL text, for
// humans, under a "review before running" banner: exact literals (Literal:
// _charset X'..' strings, exact decimals, round-trip floats, b'..' bits,
// quoted canonical temporal text in UTC). recoup itself never runs it.
//
// Decisions taken with `recoup review resolve` are appended to
// <report>.decisions.jsonl next to the JSON (AppendDecision,
// ReadDecisions); the report itself is never modified.
//
// What it does not do: read the capture log, talk to a database, or
// decide anything (the conflict package decides; applier.ApplyReviewed
// writes a reviewed conflict).
package report
