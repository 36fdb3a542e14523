package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// processesOf lists the ids of the processes any of whose user ids (real, effective, saved, file
// system) is uid, from /proc: processes in the runs' PID namespaces show there too, under their host
// ids.
func processesOf(uid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte(strconv.Itoa(uid))
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue // gone meanwhile
		}
		sc := bufio.NewScanner(bytes.NewReader(status))
		for sc.Scan() {
			rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("Uid:"))
			if !ok {
				continue
			}
			for _, f := range bytes.Fields(rest) {
				if bytes.Equal(f, want) {
					pids = append(pids, pid)
					break
				}
			}
			break
		}
	}
	return pids
}

// signalUID sends sig to every process of uid.
func signalUID(uid int, sig syscall.Signal) {
	for _, pid := range processesOf(uid) {
		_ = syscall.Kill(pid, sig)
	}
}

// killUID kills every process of uid and waits until none is left (a process may fork while it is
// being killed; each round kills what the last one missed). Zombies, killed but not yet reaped by
// their parent, count as gone.
func killUID(uid int) error {
	for round := 0; round < 100; round++ {
		var alive []int
		for _, pid := range processesOf(uid) {
			if zombie(pid) {
				continue
			}
			alive = append(alive, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if len(alive) == 0 {
			return nil
		}
		time.Sleep(time.Duration(min(round+1, 20)) * time.Millisecond)
	}
	return fmt.Errorf("processes of uid %d still alive after 100 rounds of SIGKILL", uid)
}

// zombie reports whether the process has exited and waits for its parent to reap it.
func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) state ...: comm may hold spaces and parentheses, so look after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}
