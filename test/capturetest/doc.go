// Package capturetest holds recoup's end-to-end capture tests: real
// MariaDB servers (test/sandbox) written to by the tests, a real
// streamer.Streamer capturing them into a real capture store (the local
// store and a real Kafka broker from test/kafka), and every captured record
// read back with ReadFrom, capture.Dedupe and streamer.DecodeTxn and
// compared, value by value, with what the server itself returns.
//
// The tests cover the whole type matrix, a DDL sequence (each row decoded
// with the schema of its time, live and after a catch-up), a 50 MiB
// transaction (chunked by the Kafka store) and a Kafka broker restart under
// load (the streamer blocks and retries; the log ends with every master
// GTID exactly once, in order).
//
// What it does not do: unit-test the streamer or the stores (their own
// packages do), or measure speed (test/bench does).
//
// The package has no non-test code: everything lives in _test.go files.
package capturetest
