// Package storetest is the contract every capture.Store implementation
// must pass. Run it from the implementation's tests with a Factory that
// makes fresh, empty stores and reopens them:
//
//	storetest.Run(t, storetest.Factory{
//		New:    func(t *testing.T) capture.Store { ... },
//		Reopen: func(t *testing.T, s capture.Store) capture.Store { ... },
//	})
//
// The subtests cover: an empty log, append and read back with exact
// content, Last and Bounds after each append, reading from a middle
// offset, per-record atomicity of a failing batch, persistence across a
// reopen, a reader following the tail past io.EOF, a reader concurrent
// with a writer, a 50 MiB transaction, and ErrClosed after Close.
//
// It also exports the deterministic records the contract writes (Record,
// Records, LargeRecord) and Diff, which compares two records by content,
// for implementation-specific tests.
//
// What it does not do: it starts no server and no broker; the Factory
// provides the stores.
package storetest
