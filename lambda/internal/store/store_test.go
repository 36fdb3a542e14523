package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
)

// newTestStore returns a migrated store on a database of the test's own.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: testsvc.Postgres(t)})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(s.Close)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func newDoc(name string) document.Document {
	id := document.NewID()
	return document.Document{ID: id, Name: name, ContentType: "text/plain", Size: 5,
		Metadata: map[string]string{"k": "v"}, State: document.StatePending, ObjectKey: "documents/" + id}
}

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	ctx := context.Background()
	url := testsvc.Postgres(t)
	var wg sync.WaitGroup
	results := make([][]int, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, Config{URL: url})
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			results[i], errs[i] = s.Migrate(ctx)
		}()
	}
	wg.Wait()
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	applied := 0
	for i := range 4 {
		if errs[i] != nil {
			t.Fatalf("migrate %d: %v", i, errs[i])
		}
		applied += len(results[i])
	}
	if applied != len(all) {
		t.Errorf("migrations applied %d times in total across concurrent runs, want %d (each once)", applied, len(all))
	}
}

func TestDocumentLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	d := newDoc("report.txt")
	created, err := s.Create(ctx, d)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.CreatedAt.IsZero() || created.CreatedAt != created.UpdatedAt {
		t.Errorf("timestamps = %v / %v, want set and equal", created.CreatedAt, created.UpdatedAt)
	}
	ignoreTimes := cmpopts.IgnoreFields(document.Document{}, "CreatedAt", "UpdatedAt")
	if diff := cmp.Diff(d, created, ignoreTimes); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	got, err := s.Get(ctx, d.ID)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}
	ready, err := s.MarkReady(ctx, d.ID, 7, `"etag"`)
	if err != nil {
		t.Fatalf("mark ready: %v", err)
	}
	want := created
	want.State, want.Size, want.ETag = document.StateReady, 7, `"etag"`
	if diff := cmp.Diff(want, ready, ignoreTimes); diff != "" {
		t.Errorf("ready (-want +got):\n%s", diff)
	}
	for _, step := range []struct {
		name string
		want bool
	}{{"first delete", true}, {"second delete", false}} {
		existed, err := s.Delete(ctx, d.ID)
		if err != nil || existed != step.want {
			t.Errorf("%s = %v, %v; want %v, nil", step.name, existed, err, step.want)
		}
	}
	if _, err := s.Get(ctx, d.ID); !errors.Is(err, document.ErrNotFound) {
		t.Errorf("get after delete: %v, want ErrNotFound", err)
	}
}

func TestUnknownAndMalformedIDs(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	for _, id := range []string{document.NewID(), "not-a-uuid", "", "'; DROP TABLE documents; --", "00000000-0000-0000-0000-00000000000G"} {
		if _, err := s.Get(ctx, id); !errors.Is(err, document.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
		if _, err := s.MarkReady(ctx, id, 1, ""); !errors.Is(err, document.ErrNotFound) {
			t.Errorf("MarkReady(%q) = %v, want ErrNotFound", id, err)
		}
		if existed, err := s.Delete(ctx, id); existed || err != nil {
			t.Errorf("Delete(%q) = %v, %v; want false, nil", id, existed, err)
		}
	}
}

func TestListPagesAreStableUnderInserts(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	var want []string
	for i := range 23 {
		d, err := s.Create(ctx, newDoc(fmt.Sprintf("doc-%02d", i)))
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{d.ID}, want...) // newest first
	}
	// Ties on created_at must be broken by id: give several rows the same timestamp.
	if _, err := s.pool.Exec(ctx, `UPDATE documents SET created_at = (SELECT min(created_at) FROM documents) WHERE name IN ('doc-03','doc-04','doc-05')`); err != nil {
		t.Fatal(err)
	}
	want = listIDs(t, s)
	var got []string
	var cur document.Cursor
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		page, err := s.List(ctx, cur, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Documents {
			got = append(got, d.ID)
		}
		// A document created while paging is newer than the cursor: it must not show up later.
		if _, err := s.Create(ctx, newDoc("late")); err != nil {
			t.Fatal(err)
		}
		if page.Next.IsZero() {
			break
		}
		cur = page.Next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged ids (-want +got):\n%s", diff)
	}
}

// listIDs reads all ids in listing order in one page.
func listIDs(t testing.TB, s *Store) []string {
	t.Helper()
	page, err := s.List(context.Background(), document.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(page.Documents))
	for i, d := range page.Documents {
		ids[i] = d.ID
	}
	for i := 1; i < len(page.Documents); i++ {
		a, b := page.Documents[i-1], page.Documents[i]
		if a.CreatedAt.Before(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID < b.ID) {
			t.Fatalf("listing order broken at %d", i)
		}
	}
	return ids
}

func TestConcurrentQueriesStayWithinThePool(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	d, err := s.Create(ctx, newDoc("shared"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if _, err := s.Get(ctx, d.ID); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent get: %v", err)
	}
	total, acquired := s.Stats()
	if total > 2 || acquired != 0 {
		t.Errorf("pool after the burst: %d open, %d acquired; want at most 2 open (the default) and none acquired", total, acquired)
	}
	var backends int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()`).Scan(&backends); err != nil {
		t.Fatal(err)
	}
	if backends > 2 {
		t.Errorf("server sees %d connections to the test database, want at most 2", backends)
	}
}

func TestOpenRejectsBadURLWithoutEchoingIt(t *testing.T) {
	_, err := Open(context.Background(), Config{URL: "postgres://user:s3cret@host:notaport/db"})
	if err == nil {
		t.Fatal("Open accepted a malformed URL")
	}
	if got := err.Error(); strings.Contains(got, "s3cret") {
		t.Errorf("error %q leaks the password", got)
	}
}
