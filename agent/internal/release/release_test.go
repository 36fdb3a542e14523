package release_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/config"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/release"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/release/lambdafake"
)

const (
	fn       = "documents-api-prod"
	stageKey = "AKIASTAGEPRODROLE"
)

var (
	oldZip = []byte("PK old bootstrap")
	newZip = []byte("PK new bootstrap")
)

// client returns a real SDK Lambda client for the fake, signing with access key id key.
func client(s *lambdafake.Server, key string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(key, "secret-"+key, "session"),
	})
}

// releaser returns a Releaser for the fake with millisecond polls.
func releaser(s *lambdafake.Server) *release.Releaser {
	return release.New(client(s, stageKey), release.Options{
		PollInterval:   time.Millisecond,
		WaiterMinDelay: time.Millisecond,
		WaiterMaxDelay: 5 * time.Millisecond,
	})
}

// released sets up fn with version 1 of oldZip live on alias "live", and returns the fake.
func released(t *testing.T, opts lambdafake.Options) *lambdafake.Server {
	t.Helper()
	s := lambdafake.New(t, opts)
	s.AddFunction(fn, []byte("placeholder"))
	v := s.AddVersion(fn, oldZip)
	s.SetAlias(fn, "live", v, nil)
	return s
}

// history returns the alias's states without their times, checking the times never go back.
func history(t *testing.T, s *lambdafake.Server) []lambdafake.AliasState {
	t.Helper()
	h := s.AliasHistory(fn, "live")
	for i := 1; i < len(h); i++ {
		if h[i].At.Before(h[i-1].At) {
			t.Errorf("alias history goes back in time at %d: %v", i, h)
		}
	}
	return h
}

var ignoreAt = cmpopts.IgnoreFields(lambdafake.AliasState{}, "At")

func state(version string, weights map[string]float64) lambdafake.AliasState {
	return lambdafake.AliasState{FunctionVersion: version, Weights: weights}
}

func weights(steps []release.Step) []int {
	var w []int
	for _, s := range steps {
		w = append(w, s.Weight)
	}
	return w
}

func TestReleaseFirst(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *lambdafake.Server)
		want  []lambdafake.AliasState
	}{
		{
			name:  "alias missing",
			setup: func(s *lambdafake.Server) {},
			want:  []lambdafake.AliasState{state("1", nil)},
		},
		{
			name:  "alias on $LATEST",
			setup: func(s *lambdafake.Server) { s.SetAlias(fn, "live", "$LATEST", nil) },
			want:  []lambdafake.AliasState{state("$LATEST", nil), state("1", nil)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := lambdafake.New(t, lambdafake.Options{})
			s.AddFunction(fn, []byte("placeholder"))
			tt.setup(s)
			watched := false
			res, err := releaser(s).Release(context.Background(), release.Request{
				FunctionName: fn, Alias: "live", Zip: newZip,
				Steps: []config.TrafficStep{{Weight: 10, Bake: time.Hour}},
				Watch: func(context.Context) error { watched = true; return nil },
			})
			if err != nil {
				t.Fatalf("Release: %v", err)
			}
			if diff := cmp.Diff(tt.want, history(t, s), ignoreAt); diff != "" {
				t.Errorf("alias history (-want +got):\n%s", diff)
			}
			if !res.First || res.NewVersion != "1" || watched || !cmp.Equal(weights(res.Steps), []int{100}) {
				t.Errorf("result = %+v, watched %v; want a first release of version 1 in one step, no watch", res, watched)
			}
			if got := s.Versions(fn); len(got) != 1 || got[0].CodeSha256 != lambdafake.CodeSha256(newZip) {
				t.Errorf("versions = %+v, want one of the new zip", got)
			}
		})
	}
}

func TestReleaseCanary(t *testing.T) {
	tests := []struct {
		name  string
		steps []config.TrafficStep
		want  []lambdafake.AliasState
	}{
		{
			name:  "Canary10Percent5Minutes",
			steps: []config.TrafficStep{{Weight: 10, Bake: 3 * time.Millisecond}},
			want:  []lambdafake.AliasState{state("1", nil), state("1", map[string]float64{"2": 0.1}), state("2", nil)},
		},
		{
			name: "Linear25PercentEvery1Minute",
			steps: []config.TrafficStep{
				{Weight: 25, Bake: 2 * time.Millisecond}, {Weight: 50, Bake: 2 * time.Millisecond}, {Weight: 75, Bake: 2 * time.Millisecond},
			},
			want: []lambdafake.AliasState{
				state("1", nil), state("1", map[string]float64{"2": 0.25}), state("1", map[string]float64{"2": 0.5}),
				state("1", map[string]float64{"2": 0.75}), state("2", nil),
			},
		},
		{
			name: "AllAtOnce",
			want: []lambdafake.AliasState{state("1", nil), state("2", nil)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := released(t, lambdafake.Options{AccessKeyIDs: []string{stageKey}})
			var mu sync.Mutex
			var progress []release.Step
			res, err := releaser(s).Release(context.Background(), release.Request{
				FunctionName: fn, Alias: "live", Zip: newZip, Steps: tt.steps,
				Smoke:    []byte(`{"rawPath":"/health"}`),
				Watch:    func(context.Context) error { return nil },
				Progress: func(st release.Step, _ release.Result) { mu.Lock(); progress = append(progress, st); mu.Unlock() },
			})
			if err != nil {
				t.Fatalf("Release: %v", err)
			}
			if diff := cmp.Diff(tt.want, history(t, s), ignoreAt); diff != "" {
				t.Errorf("alias history (-want +got):\n%s", diff)
			}
			wantSteps := []int{}
			for _, st := range tt.steps {
				wantSteps = append(wantSteps, st.Weight)
			}
			wantSteps = append(wantSteps, 100)
			if diff := cmp.Diff(wantSteps, weights(res.Steps)); diff != "" {
				t.Errorf("result steps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(res.Steps, progress); diff != "" {
				t.Errorf("progress reported (-result +progress):\n%s", diff)
			}
			if res.OldVersion != "1" || res.NewVersion != "2" || res.RolledBack || res.CodeSha256 != lambdafake.CodeSha256(newZip) {
				t.Errorf("result = %+v, want 1 → 2 with the new zip's sha, not rolled back", res)
			}
			inv := s.Invocations(fn)
			if len(inv) != 1 || inv[0].Version != "2" || string(inv[0].Payload) != `{"rawPath":"/health"}` {
				t.Errorf("invocations = %+v, want the smoke event on version 2", inv)
			}
			if diff := cmp.Diff([]string{stageKey}, s.AccessKeyIDs()); diff != "" {
				t.Errorf("access key ids that signed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReleaseWatchFailure(t *testing.T) {
	s := released(t, lambdafake.Options{})
	calls := 0
	steps := []config.TrafficStep{{Weight: 10, Bake: time.Hour}, {Weight: 50, Bake: time.Hour}}
	res, err := releaser(s).Release(context.Background(), release.Request{
		FunctionName: fn, Alias: "live", Zip: newZip, Steps: steps,
		Watch: func(context.Context) error {
			if calls++; calls == 3 {
				return errors.New(`alarm "documents-api-prod-errors" is in ALARM`)
			}
			return nil
		},
	})
	if err == nil || !strings.Contains(err.Error(), `alarm "documents-api-prod-errors" is in ALARM`) || !strings.Contains(err.Error(), "restored to version 1") {
		t.Fatalf("Release error = %v, want the watch's reason and the restore", err)
	}
	want := []lambdafake.AliasState{state("1", nil), state("1", map[string]float64{"2": 0.1}), state("1", nil)}
	if diff := cmp.Diff(want, history(t, s), ignoreAt); diff != "" {
		t.Errorf("alias history (-want +got):\n%s", diff)
	}
	if !res.RolledBack || res.Cause != release.CauseWatch || !cmp.Equal(weights(res.Steps), []int{10, 0}) {
		t.Errorf("result = %+v, want rolled back for the watch after the 10%% step", res)
	}
}

func TestReleaseSmokeFailure(t *testing.T) {
	s := released(t, lambdafake.Options{})
	s.SetInvokeResponse(fn, lambdafake.InvokeResponse{FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"nil map","errorType":"runtime.Error"}`)})
	res, err := releaser(s).Release(context.Background(), release.Request{
		FunctionName: fn, Alias: "live", Zip: newZip, Smoke: []byte(`{}`),
		Steps: []config.TrafficStep{{Weight: 10, Bake: time.Millisecond}},
	})
	if err == nil || !strings.Contains(err.Error(), "function error Unhandled") || !strings.Contains(err.Error(), "nil map") {
		t.Fatalf("Release error = %v, want the function error and its payload", err)
	}
	if diff := cmp.Diff([]lambdafake.AliasState{state("1", nil)}, history(t, s), ignoreAt); diff != "" {
		t.Errorf("alias history (-want +got): the alias must not move\n%s", diff)
	}
	if res.RolledBack || res.Cause != release.CauseSmoke || res.NewVersion != "2" || len(res.Steps) != 0 {
		t.Errorf("result = %+v, want a smoke failure of version 2 with no alias step", res)
	}
}

// TestReleaseSmokeProxyStatus: a function behind API Gateway answers Invoke with 200 and its HTTP status in
// the payload; a 5xx there fails the smoke test like a function error, a 2xx or any other payload passes.
func TestReleaseSmokeProxyStatus(t *testing.T) {
	for _, tc := range []struct {
		payload string
		fails   bool
	}{
		{`{"statusCode":503,"body":"{\"status\":\"unavailable\",\"database\":\"down\"}"}`, true},
		{`{"statusCode":404,"body":"not found"}`, true},
		{`{"statusCode":200,"body":"{\"status\":\"ok\"}"}`, false},
		{`{"ok":true}`, false},
		{`"pong"`, false},
	} {
		s := released(t, lambdafake.Options{})
		s.SetInvokeResponse(fn, lambdafake.InvokeResponse{Payload: []byte(tc.payload)})
		res, err := releaser(s).Release(context.Background(), release.Request{FunctionName: fn, Alias: "live", Zip: newZip, Smoke: []byte(`{"path":"/healthz"}`)})
		if tc.fails != (err != nil) || (tc.fails && (res.Cause != release.CauseSmoke || !strings.Contains(err.Error(), "statusCode"))) {
			t.Errorf("payload %s: Release = %+v, %v; want failed by the smoke test: %v", tc.payload, res, err, tc.fails)
		}
		if a, _ := s.Alias(fn, "live"); tc.fails && a.FunctionVersion != "1" {
			t.Errorf("payload %s: the alias moved to %s after a failed smoke test", tc.payload, a.FunctionVersion)
		}
	}
}

func TestReleaseZipTooLarge(t *testing.T) {
	s := released(t, lambdafake.Options{})
	_, err := releaser(s).Release(context.Background(), release.Request{FunctionName: fn, Alias: "live", Zip: make([]byte, release.MaxZipSize+1)})
	if !errors.Is(err, release.ErrZipTooLarge) {
		t.Fatalf("Release error = %v, want ErrZipTooLarge", err)
	}
	if got := s.AccessKeyIDs(); len(got) != 0 {
		t.Errorf("the fake received calls signed by %v, want none", got)
	}
	if got := s.LatestCodeSha256(fn); got != lambdafake.CodeSha256(oldZip) {
		t.Errorf("$LATEST code changed to %s", got)
	}
}

func TestReleaseConflict(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(s *lambdafake.Server)
		watch  func(s *lambdafake.Server) func(context.Context) error
		wantAt []int // the result's step weights
	}{
		{
			name:   "412 on the first step",
			setup:  func(s *lambdafake.Server) { s.FailNext("UpdateAlias", lambdafake.ErrPreconditionFailed) },
			wantAt: []int{0},
		},
		{
			name: "alias moved by someone else during the bake",
			watch: func(s *lambdafake.Server) func(context.Context) error {
				return func(context.Context) error { s.SetAlias(fn, "live", "1", map[string]float64{"2": 0.5}); return nil }
			},
			wantAt: []int{10, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := released(t, lambdafake.Options{})
			req := release.Request{FunctionName: fn, Alias: "live", Zip: newZip, Steps: []config.TrafficStep{{Weight: 10, Bake: time.Millisecond}}}
			if tt.setup != nil {
				tt.setup(s)
			}
			if tt.watch != nil {
				req.Watch = tt.watch(s)
			}
			res, err := releaser(s).Release(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), "changed by someone else") || !strings.Contains(err.Error(), "restored to version 1") {
				t.Fatalf("Release error = %v, want a conflict, restored", err)
			}
			got, _ := s.Alias(fn, "live")
			if diff := cmp.Diff(state("1", nil), got, ignoreAt); diff != "" {
				t.Errorf("alias at the end (-want +got):\n%s", diff)
			}
			for _, h := range history(t, s) {
				if h.FunctionVersion == "2" {
					t.Errorf("the new version got all the traffic at some point: %+v", h)
				}
			}
			if !res.RolledBack || res.Cause != release.CauseConflict || !cmp.Equal(weights(res.Steps), tt.wantAt) {
				t.Errorf("result = %+v, want rolled back for a conflict with steps %v", res, tt.wantAt)
			}
		})
	}
}

// TestReleaseWaits checks the release waits for Lambda: the fake refuses a publish while the update is in
// progress and an invocation while the version is pending, and records the states it reported.
func TestReleaseWaits(t *testing.T) {
	s := released(t, lambdafake.Options{UpdateDelay: 100 * time.Millisecond, PublishDelay: 100 * time.Millisecond})
	_, err := releaser(s).Release(context.Background(), release.Request{FunctionName: fn, Alias: "live", Zip: newZip, Smoke: []byte(`{}`)})
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	served := s.Served(fn)
	for _, pair := range [][2]string{{"$LATEST InProgress", "$LATEST Successful"}, {"2 Pending", "2 Active"}} {
		i, j := index(served, pair[0]), index(served, pair[1])
		if i < 0 || j < i {
			t.Errorf("served states %q: want %q, then %q", served, pair[0], pair[1])
		}
	}
}

func index(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func TestReleaseOtherCredentials(t *testing.T) {
	s := released(t, lambdafake.Options{AccessKeyIDs: []string{stageKey}})
	r := release.New(client(s, "AKIAPLANROLE"), release.Options{})
	_, err := r.Release(context.Background(), release.Request{FunctionName: fn, Alias: "live", Zip: newZip})
	if err == nil || !strings.Contains(err.Error(), "UnrecognizedClientException") {
		t.Fatalf("Release error = %v, want UnrecognizedClientException", err)
	}
	if got := s.LatestCodeSha256(fn); got != lambdafake.CodeSha256(oldZip) {
		t.Errorf("$LATEST code changed to %s", got)
	}
}

func TestReleaseSameCode(t *testing.T) {
	s := released(t, lambdafake.Options{})
	res, err := releaser(s).Release(context.Background(), release.Request{FunctionName: fn, Alias: "live", Zip: oldZip,
		Steps: []config.TrafficStep{{Weight: 10, Bake: time.Hour}}})
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	if res.NewVersion != "1" || len(res.Steps) != 0 {
		t.Errorf("result = %+v, want version 1 again and no alias step", res)
	}
	if diff := cmp.Diff([]lambdafake.AliasState{state("1", nil)}, history(t, s), ignoreAt); diff != "" {
		t.Errorf("alias history (-want +got):\n%s", diff)
	}
}

func TestReleaseCanceled(t *testing.T) {
	s := released(t, lambdafake.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := releaser(s).Release(ctx, release.Request{
		FunctionName: fn, Alias: "live", Zip: newZip,
		Steps: []config.TrafficStep{{Weight: 10, Bake: time.Hour}},
		Watch: func(context.Context) error { cancel(); return nil },
	})
	if !errors.Is(err, context.Canceled) || !res.RolledBack || res.Cause != release.CauseCanceled {
		t.Fatalf("Release = %+v, %v; want canceled and rolled back", res, err)
	}
	got, _ := s.Alias(fn, "live")
	if diff := cmp.Diff(state("1", nil), got, ignoreAt); diff != "" {
		t.Errorf("alias at the end (-want +got):\n%s", diff)
	}
}

// TestReleaseResumedMidCanary: an agent that stopped with half the traffic on the new version finds the
// alias split when the release runs again, and goes on from that weight instead of dropping back to the
// first step; traffic never goes back to the old version alone.
func TestReleaseResumedMidCanary(t *testing.T) {
	s := released(t, lambdafake.Options{})
	v2 := s.AddVersion(fn, newZip)
	s.SetAlias(fn, "live", "1", map[string]float64{v2: 0.5})
	res, err := releaser(s).Release(context.Background(), release.Request{FunctionName: fn, Alias: "live", Zip: newZip,
		Steps: []config.TrafficStep{{Weight: 10, Bake: time.Millisecond}, {Weight: 50, Bake: time.Millisecond}, {Weight: 80, Bake: time.Millisecond}}})
	if err != nil {
		t.Fatalf("Release: %v", err)
	}
	if res.NewVersion != v2 || res.OldVersion != "1" || !cmp.Equal(weights(res.Steps), []int{50, 80, 100}) {
		t.Errorf("result = %+v, want version %s from 1 through 50, 80, 100", res, v2)
	}
	want := []lambdafake.AliasState{state("1", nil), state("1", map[string]float64{v2: 0.5}), state("1", map[string]float64{v2: 0.5}), state("1", map[string]float64{v2: 0.8}), state(v2, nil)}
	if diff := cmp.Diff(want, history(t, s), ignoreAt); diff != "" {
		t.Errorf("alias history (-want +got):\n%s", diff)
	}
}

// TestRestore: a rollback points the alias back at the previous version, routing cleared, and leaves an
// alias already there alone.
func TestRestore(t *testing.T) {
	s := released(t, lambdafake.Options{})
	v2 := s.AddVersion(fn, newZip)
	s.SetAlias(fn, "live", v2, map[string]float64{"1": 0.2})
	r := releaser(s)
	if err := r.Restore(context.Background(), fn, "live", "1"); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Alias(fn, "live"); a.FunctionVersion != "1" || len(a.Weights) != 0 {
		t.Errorf("alias = %+v, want version 1 alone", a)
	}
	n := len(s.AliasHistory(fn, "live"))
	if err := r.Restore(context.Background(), fn, "live", "1"); err != nil {
		t.Fatal(err)
	}
	if got := len(s.AliasHistory(fn, "live")); got != n {
		t.Errorf("restoring an alias already restored moved it again (%d → %d moves)", n, got)
	}
	if err := r.Restore(context.Background(), fn, "live", ""); err == nil {
		t.Error("Restore with no version: no error")
	}
	if err := r.Restore(context.Background(), "missing", "live", "1"); err == nil {
		t.Error("Restore of a missing function: no error")
	}
}
