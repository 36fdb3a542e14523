package scale_test

import (
	"cmp"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Reading the process table from /proc: who started whom, and how much memory each holds.

// procTable is the process table as last read: each process's parent. A process is read once, when it is
// first listed, so that a reading costs little more than listing /proc (samples are taken every 50 ms
// while plans run, and reading every process each time would cost both sides of a comparison a few per
// cent of a core).
type procTable struct {
	ppid map[int]int
	tf   string // the terraform binary's command name (its file name, as /proc/<pid>/comm keeps it: 15 bytes)
}

// parents lists /proc and returns every process's parent; processes that exit meanwhile are left out.
func (t *procTable) parents() map[int]int {
	if t.ppid == nil {
		t.ppid = map[int]int{}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return t.ppid
	}
	listed := make(map[int]bool, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		listed[pid] = true
		if _, ok := t.ppid[pid]; ok {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
		rest := string(raw[strings.LastIndexByte(string(raw), ')')+1:])
		if f := strings.Fields(rest); len(f) >= 2 {
			if ppid, err := strconv.Atoi(f[1]); err == nil {
				t.ppid[pid] = ppid
			}
		}
	}
	for pid := range t.ppid {
		if !listed[pid] {
			delete(t.ppid, pid)
		}
	}
	return t.ppid
}

// descendants returns the processes below root (not root itself) in the table pp.
func descendants(pp map[int]int, root int) []int {
	children := map[int][]int{}
	for pid, ppid := range pp {
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, children[p]...)
		queue = append(queue, children[p]...)
	}
	return out
}

// statusKB reads one memory field of /proc/<pid>/status ("VmRSS", "VmHWM") in KiB; 0 when the process
// is gone or the field missing.
func statusKB(pid int, field string) int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// comm is a process's command name, "" when it is gone.
func comm(pid int) string {
	raw, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(raw))
}

// terraformRSS sums the resident size, in KiB, of the terraform processes below root (by command name,
// "terraform" unless t.tf says otherwise), and counts them.
// The command name is read at each call: a process started by a Go program is listed under its parent's
// name until it execs.
func (t *procTable) terraformRSS(root int) (kb int64, n int) {
	for _, pid := range descendants(t.parents(), root) {
		if name := cmp.Or(t.tf, "terraform"); comm(pid) == name[:min(len(name), 15)] {
			kb += statusKB(pid, "VmRSS")
			n++
		}
	}
	return kb, n
}

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuTimes reads the CPU time (user + system) a process used itself and the CPU time of the children it
// has waited for, from /proc/<pid>/stat; zero when it is gone.
func cpuTimes(pid int) (self, children time.Duration) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	// After the command's closing parenthesis: state (field 3) … utime (14), stime, cutime, cstime (17).
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(f) < 15 {
		return 0, 0
	}
	ticks := make([]int64, 4)
	for i := range ticks {
		ticks[i], _ = strconv.ParseInt(f[11+i], 10, 64)
	}
	return time.Duration(ticks[0]+ticks[1]) * clockTick, time.Duration(ticks[2]+ticks[3]) * clockTick
}

// childrenCPU is the CPU time (user + system) of the children this process has waited for.
func childrenCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
