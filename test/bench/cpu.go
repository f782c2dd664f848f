package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuUse is the CPU time (user + system) of the processes that share the
// machine during a measure: this one (the streamer), the MariaDB primary
// and the Kafka broker. Wall times on a 2-core machine depend on who else
// runs; CPU times tell which process a measure was bound by.
type cpuUse struct {
	self, mariadbd, broker time.Duration
	brokerKnown            bool
}

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat times.
const clockTicks = 100

// cpuNow reads the current totals.
func (e *env) cpuNow() cpuUse {
	var u cpuUse
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if b, err := os.ReadFile(e.primary.PIDFile()); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			u.mariadbd, _ = procCPU(pid)
		}
	}
	if e.broker != nil {
		u.broker, u.brokerKnown = procCPU(e.broker.cmd.Process.Pid)
	}
	return u
}

// since is the CPU used from before to u.
func (u cpuUse) since(before cpuUse) cpuUse {
	return cpuUse{self: u.self - before.self, mariadbd: u.mariadbd - before.mariadbd,
		broker: u.broker - before.broker, brokerKnown: u.brokerKnown && before.brokerKnown}
}

// String says it for a report line.
func (u cpuUse) String() string {
	s := fmt.Sprintf("recoup %.2f s, mariadbd %.2f s", u.self.Seconds(), u.mariadbd.Seconds())
	if u.brokerKnown {
		s += fmt.Sprintf(", Kafka broker %.2f s", u.broker.Seconds())
	}
	return s
}

// procCPU is a process's user + system time from /proc/PID/stat.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces: fields count from after it.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // stime, field 15
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * time.Second / clockTicks, true
}
