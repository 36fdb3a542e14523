package gitlab

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gl "gitlab.com/gitlab-org/api/client-go"
)

// untar reads a gzip tar into name → content for regular files, and lists every entry name.
func untar(tb testing.TB, r io.Reader) (files map[string]string, names []string) {
	tb.Helper()
	gz, err := gzip.NewReader(r)
	if err != nil {
		tb.Fatalf("gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	files = map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, names
		}
		if err != nil {
			tb.Fatalf("tar: %v", err)
		}
		names = append(names, h.Name)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				tb.Fatalf("read %s: %v", h.Name, err)
			}
			files[h.Name] = string(b)
		}
	}
}

func TestArchive(t *testing.T) {
	c, srv := newClient(t)
	id := srv.AddProject("a/b/app")
	sha := "0123456789abcdef0123456789abcdef01234567"
	srv.Commit("a/b/app", sha, map[string]string{
		".gitops.yaml":           "version: 1\n",
		"stacks/demo/main.tf":    "resource \"terraform_data\" \"x\" {}\n",
		"stacks/demo/dev.tfvars": "",
	})
	top := "app-" + sha + "-" + sha + "/"
	want := map[string]string{
		top + ".gitops.yaml":           "version: 1\n",
		top + "stacks/demo/main.tf":    "resource \"terraform_data\" \"x\" {}\n",
		top + "stacks/demo/dev.tfvars": "",
	}
	for _, project := range []string{"a/b/app", itoa(id)} {
		t.Run(project, func(t *testing.T) {
			r, err := c.Archive(context.Background(), project, sha)
			if err != nil {
				t.Fatalf("Archive: %v", err)
			}
			defer r.Close()
			got, _ := untar(t, r)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("archive files (-want +got):\n%s", diff)
			}
		})
	}
}

func TestArchiveOfUnknownCommitFailsBeforeReading(t *testing.T) {
	c, srv := newClient(t)
	srv.AddProject("g/app")
	r, err := c.Archive(context.Background(), "g/app", "feedface")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Archive error = %v, want ErrNotFound", err)
	}
	if r != nil {
		t.Errorf("Archive returned a reader with its error")
	}
}

// TestArchiveCloseStopsTransfer reads a little of a large archive and closes it: Close must return
// promptly and later reads must fail, without the rest being downloaded.
func TestArchiveCloseStopsTransfer(t *testing.T) {
	c, srv := newClient(t)
	srv.AddProject("g/app")
	noise := make([]byte, 2<<20) // incompressible, and far more than socket buffers hold
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	srv.Commit("g/app", "big", map[string]string{"blob.bin": string(noise)})

	r, err := c.Archive(context.Background(), "g/app", "big")
	if err != nil {
		t.Fatalf("Archive: %v", err)
	}
	if _, err := io.ReadFull(r, make([]byte, 4096)); err != nil {
		t.Fatalf("read start: %v", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- r.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if _, err := r.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close succeeded")
	}
}

func TestArchiveHonoursCancellation(t *testing.T) {
	c, srv := newClient(t)
	srv.AddProject("g/app")
	srv.Commit("g/app", "s", map[string]string{"f": "x"})
	srv.SetLatency(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Archive(ctx, "g/app", "s")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Archive error = %v, want context.DeadlineExceeded", err)
	}
}

// BenchmarkArchive measures streaming an archive through Archive against the reference of client-go's own
// Repositories.Archive, which buffers the whole body, in the same run; "stream/buffered" is the ratio of
// their times (below 1: streaming is faster).
func BenchmarkArchive(b *testing.B) {
	c, srv := newClient(b)
	srv.AddProject("g/app")
	noise := make([]byte, 4<<20)
	if _, err := rand.Read(noise); err != nil {
		b.Fatal(err)
	}
	srv.Commit("g/app", "s", map[string]string{"blob.bin": string(noise)})
	ctx := context.Background()

	stream := func() int64 {
		r, err := c.Archive(ctx, "g/app", "s")
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	buffer := func() int64 {
		ref, _, err := c.api.Repositories.Archive("g/app", &gl.ArchiveOptions{Format: gl.Ptr("tar.gz"), SHA: gl.Ptr("s")}, gl.WithContext(ctx))
		if err != nil {
			b.Fatal(err)
		}
		return int64(len(ref))
	}
	timed := func(f func() int64, total *time.Duration) int64 {
		start := time.Now()
		n := f()
		*total += time.Since(start)
		return n
	}

	var streamed, buffered time.Duration

	i := 0
	for b.Loop() {
		// Alternate which runs first so neither gains from the other's warm caches.
		var n, ref int64
		if i%2 == 0 {
			n, ref = timed(stream, &streamed), timed(buffer, &buffered)
		} else {
			ref, n = timed(buffer, &buffered), timed(stream, &streamed)
		}
		if n != ref {
			b.Fatalf("streamed %d bytes, reference %d", n, ref)
		}

		i++
	}
	b.ReportMetric(float64(streamed)/float64(buffered), "stream/buffered")
}
