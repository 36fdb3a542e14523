package terraform

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/terraform-exec/tfexec"
)

// optionValues compares terraform-exec options, whose fields are unexported, by value.
var optionValues = cmp.Exporter(func(reflect.Type) bool { return true })

func TestInitOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		backendConfig []string
		want          []tfexec.InitOption
	}{
		{name: "none", want: []tfexec.InitOption{}},
		{
			name:          "file and pair in order",
			backendConfig: []string{"stages/dev.backend.hcl", "key=api/dev.tfstate"},
			want:          []tfexec.InitOption{tfexec.BackendConfig("stages/dev.backend.hcl"), tfexec.BackendConfig("key=api/dev.tfstate")},
		},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, initOptions(tt.backendConfig), optionValues); diff != "" {
			t.Errorf("%s: initOptions (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestPlanOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		varFiles    []string
		lockTimeout time.Duration
		readOnly    bool
		want        []tfexec.PlanOption
	}{
		{
			name: "no var files, no wait for the lock",
			want: []tfexec.PlanOption{tfexec.Out("/plans/p.tfplan"), tfexec.LockTimeout("0s")},
		},
		{
			name:        "var files in order",
			varFiles:    []string{"stages/dev.tfvars", "../common.tfvars"},
			lockTimeout: 90 * time.Second,
			want: []tfexec.PlanOption{
				tfexec.Out("/plans/p.tfplan"), tfexec.LockTimeout("90s"),
				tfexec.VarFile("stages/dev.tfvars"), tfexec.VarFile("../common.tfvars"),
			},
		},
		{
			name:        "read-only: the state is not locked",
			varFiles:    []string{"stages/dev.tfvars"},
			lockTimeout: 90 * time.Second,
			readOnly:    true,
			want:        []tfexec.PlanOption{tfexec.Out("/plans/p.tfplan"), tfexec.Lock(false), tfexec.VarFile("stages/dev.tfvars")},
		},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, planOptions("/plans/p.tfplan", tt.varFiles, tt.lockTimeout, tt.readOnly), optionValues); diff != "" {
			t.Errorf("%s: planOptions (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestApplyOptions(t *testing.T) {
	t.Parallel()
	want := []tfexec.ApplyOption{tfexec.DirOrPlan("/plans/p.tfplan"), tfexec.LockTimeout("60s")}
	if diff := cmp.Diff(want, applyOptions("/plans/p.tfplan", time.Minute), optionValues); diff != "" {
		t.Errorf("applyOptions (-want +got):\n%s", diff)
	}
}

func TestLockTimeoutArg(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{time.Nanosecond, "1s"},
		{time.Second, "1s"},
		{1500 * time.Millisecond, "2s"},
		{10 * time.Minute, "600s"},
		{-time.Second, "0s"},
	}
	for _, tt := range tests {
		if got := lockTimeoutArg(tt.d); got != tt.want {
			t.Errorf("lockTimeoutArg(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
