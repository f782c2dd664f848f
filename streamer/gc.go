package streamer

import (
	"os"
	"runtime/debug"
)

// CaptureGCPercent is the garbage collector target a capture process runs
// with when GOGC is not set. Capture allocates at the binlog's rate (each
// event arrives in a new buffer and lives until its batch is durable) over
// a live heap of a few megabytes: at Go's default of 100 the collector
// runs hundreds of times per second of catch-up and took 12-15% of the
// streamer's CPU in the capture benchmark; at 400 the heap may grow to
// five times the live data (tens of megabytes per cluster) instead.
const CaptureGCPercent = 400

// TuneGC sets the process's GC target to CaptureGCPercent unless the GOGC
// environment variable is set, and returns the target in force (negative:
// GC off). Call it once, from main, before capture starts.
func TuneGC() int {
	if v, ok := os.LookupEnv("GOGC"); ok && v != "" {
		p := debug.SetGCPercent(100) // read the current value...
		debug.SetGCPercent(p)        // ...and put it back
		return p
	}
	debug.SetGCPercent(CaptureGCPercent)
	return CaptureGCPercent
}
