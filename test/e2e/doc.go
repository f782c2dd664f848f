// Package e2e holds recoup's end-to-end failover tests: a real MariaDB
// topology (test/sandbox), a real HAProxy in front of it
// (test/haproxytest), the real streamer capturing into the local store or
// a real Kafka broker (test/kafka), clients writing through HAProxy with
// a ledger of acknowledged commits, a kill -9 of the master, an
// Orchestrator-style promotion, and the built `recoup hook` binary run
// with exactly the arguments and ORC_* environment Orchestrator 3.2.6
// passes (hook/testdata/orchestrator-3.2.6-hook-input.txt, with this
// topology's hosts and ports).
//
// The non-test code here reads that fixture (LoadFixture) and renders a
// recovery's invocations (Fixture.Post, Fixture.Pre). The tests and the
// benchmark (time from hook start to writes open with 1,000 missing
// transactions) are in the _test files.
//
// Main types: Fixture, Recovery.
package e2e
