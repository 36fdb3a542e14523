package gitlab

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestUsername(t *testing.T) {
	c, srv := newClient(t)
	name, err := c.Username(context.Background())
	if err != nil || name == "" {
		t.Fatalf("Username() = %q, %v; want the token's user", name, err)
	}
	bad := clientFor(t, srv, "glpat-wrong-0000")
	_, err = bad.Username(context.Background())
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("error = %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), "glpat-wrong-0000") {
		t.Errorf("error %q quotes the token", err)
	}
}

func TestPermanent(t *testing.T) {
	for code, want := range map[int]bool{400: true, 401: true, 403: true, 404: true, 422: true, 408: false, 429: false, 500: false, 502: false} {
		var perm interface{ Permanent() bool }
		err := error(&APIError{StatusCode: code})
		if got := errors.As(err, &perm) && perm.Permanent(); got != want {
			t.Errorf("status %d: permanent = %v, want %v", code, got, want)
		}
	}
}
