package streamer

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)

	t.Setenv("GOGC", "")
	if got := TuneGC(); got != CaptureGCPercent {
		t.Errorf("TuneGC with GOGC empty = %d, want %d", got, CaptureGCPercent)
	}
	if cur := debug.SetGCPercent(100); cur != CaptureGCPercent {
		t.Errorf("GC percent in force %d, want %d", cur, CaptureGCPercent)
	}
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150) // what the runtime read from GOGC at start
	if got := TuneGC(); got != 150 {
		t.Errorf("TuneGC with GOGC=150 = %d, want 150 (the user's choice kept)", got)
	}
	if cur := debug.SetGCPercent(100); cur != 150 {
		t.Errorf("GC percent in force %d, want 150", cur)
	}
}
