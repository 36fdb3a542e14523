package testsvc

import "testing"

func TestWriteExecutableStartsWhileOthersFork(t *testing.T) {
	StartsWhileOthersFork(t, func(path string, script []byte) error {
		WriteExecutable(t, path, script)
		return nil
	})
}
