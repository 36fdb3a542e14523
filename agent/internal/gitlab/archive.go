package gitlab

import (
	"context"
	"io"
	"sync"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// Archive streams the gzip tar of project at the commit sha (GET /projects/:id/repository/archive.tar.gz
// ?sha=SHA). GitLab puts every entry under one top-level directory, "<name>-<sha>-<sha>/". The bytes are
// GitLab's, unchecked: extracting them safely is the caller's job.
//
// Archive returns once GitLab has answered, so a missing commit or project is an error wrapping
// ErrNotFound here, not on the first Read. A failure later in the transfer comes back from Read. Close
// releases the connection; it must be called.
func (c *Client) Archive(ctx context.Context, project, sha string) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	w := &firstWrite{w: pw, started: make(chan struct{})}
	done := make(chan error, 1)
	op := "download archive of " + project + "@" + sha
	go func() {
		_, err := c.api.Repositories.StreamArchive(project, w,
			&gl.ArchiveOptions{Format: gl.Ptr("tar.gz"), SHA: gl.Ptr(sha)},
			gl.WithContext(ctx))
		err = c.wrap(op, err)
		pw.CloseWithError(err) // nil closes with io.EOF
		done <- err
	}()

	select {
	case <-w.started:
		return &archive{r: pr, cancel: cancel}, nil
	case err := <-done:
		if err != nil {
			cancel()
			return nil, err
		}
		// An empty body: the reader yields io.EOF at once.
		return &archive{r: pr, cancel: cancel}, nil
	}
}

// firstWrite passes writes through and closes started before the first one.
type firstWrite struct {
	w       io.Writer
	once    sync.Once
	started chan struct{}
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.started) })
	return f.w.Write(p)
}

// archive is the body of an archive download. Close stops the transfer: it cancels the request, so
// nothing is left to drain.
type archive struct {
	r      *io.PipeReader
	cancel context.CancelFunc
}

func (a *archive) Read(p []byte) (int, error) { return a.r.Read(p) }

func (a *archive) Close() error {
	a.cancel()
	return a.r.Close()
}
