package testsvc

import (
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
)

func TestWriteExecutableStartsWhileOthersFork(t *testing.T) {
	StartsWhileOthersFork(t, func(path string, script []byte) error {
		WriteExecutable(t, path, script)
		return nil
	})
}

func TestFreePortIsReservedUntilTheTestEnds(t *testing.T) {
	lo, hi := reservablePorts()
	seen := map[int]bool{}
	for range 20 {
		port := FreePort(t)
		if seen[port] {
			t.Errorf("port %d returned twice", port)
		}
		seen[port] = true
		if port < lo || port >= hi {
			t.Errorf("port %d outside %d-%d", port, lo, hi-1)
		}
		f, err := os.OpenFile(portLock(port), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			t.Errorf("port %d is not reserved against other tests", port)
		}
		f.Close()
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Errorf("port %d is not free: %v", port, err)
			continue
		}
		l.Close()
	}
}
