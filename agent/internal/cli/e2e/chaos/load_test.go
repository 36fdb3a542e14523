package chaos_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/cli/clitest"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab/gitlabfake"
	"gitlab.com/gitops-agent/gitops-agent/internal/testsvc"
)

// TestLoadOneJobPerWebhook offers distinct webhooks (each the open event of a merge request of its own) at
// 1,000 per second for 10 seconds (60 in long mode), with at most 1,000 in flight (when the agent falls
// behind, fewer are offered), and checks that each ends as exactly one plan job in
// the queue, re-deliveries answered duplicate. The plans are held at their source download (the GitLab
// stand-in holds archives), so the flood measures intake, not terraform. The achieved rate and the intake
// latency (p50, p99) are figures.
func TestLoadOneJobPerWebhook(t *testing.T) {
	bin := agentBinary(t)
	cluster := testsvc.PostgresCluster(t)
	gl := gitlabfake.New(t, clitest.Token)
	gl.AddProject(clitest.Project)
	head := clitest.CommitID('a')
	clitest.NewRepo(t).Commit(t, gl, head, clitest.Tree{Rev: "r1"})
	t.Cleanup(gl.HoldArchives())
	db := cluster.NewDatabase()
	p := clitest.StartProcess(t, bin, gl, db, t.TempDir(), "replica-1", "LOG_LEVEL=warn")

	const rate = 1000
	flood := time.Duration(pick(10, 60)) * time.Second
	n := rate * int(flood/time.Second) // at the most: when the agent falls behind, fewer are offered
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}}
	type answer struct {
		status  string
		latency time.Duration
	}
	answers := make([]answer, n)
	var (
		mu      sync.Mutex
		retry   []gitlabfake.Hook // deliveries not answered 202, delivered again after the flood
		again   []gitlabfake.Hook // the first deliveries, delivered again to see them answered duplicate
		wg      sync.WaitGroup
		flights = make(chan struct{}, 1000) // at most this many deliveries in flight: beyond, the offer waits
	)
	start := time.Now()
	offered := 0
	for i := range n {
		if time.Since(start) >= flood {
			break
		}
		offered++
		if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		_, hook := gl.OpenMR(clitest.Project, gitlabfake.MR{HeadSHA: head, Changes: gitlabfake.Modified("stacks/app/main.tf")})
		if i < 100 {
			again = append(again, hook)
		}
		flights <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-flights }()
			began := time.Now()
			code, status, err := postWith(hc, p.URL, hook)
			answers[i] = answer{status, time.Since(began)}
			if err != nil || code != http.StatusAccepted {
				answers[i].status = "error"
				mu.Lock()
				retry = append(retry, hook)
				mu.Unlock()
			}
		}()
	}
	offering := time.Since(start)
	wg.Wait()
	took := time.Since(start)
	answers, n = answers[:offered], offered

	var latencies []time.Duration
	counts := map[string]int{}
	for _, a := range answers {
		counts[a.status]++
		if a.status != "error" {
			latencies = append(latencies, a.latency)
		}
	}
	slices.Sort(latencies)
	figure(t, "load_webhooks", n)
	figure(t, "load_offered_per_second", strconv.FormatFloat(float64(n)/offering.Seconds(), 'f', 0, 64))
	figure(t, "load_accepted_per_second", strconv.FormatFloat(float64(len(latencies))/took.Seconds(), 'f', 0, 64))
	if len(latencies) > 0 {
		figure(t, "load_intake_p50_ms", latencies[len(latencies)/2].Milliseconds())
		figure(t, "load_intake_p99_ms", latencies[len(latencies)*99/100].Milliseconds())
	}
	figure(t, "load_not_accepted_first_time", counts["error"])
	t.Logf("answers: %v", counts)
	for _, h := range retry {
		status, err := deliver(&current{p: p}, h, time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		counts[status]++
	}
	for _, h := range again {
		if code, status, err := postWith(hc, p.URL, h); err != nil || code != http.StatusAccepted || status != "duplicate" {
			t.Errorf("a delivery made again answered %d %q (%v), want 202 duplicate", code, status, err)
		}
	}
	if counts["queued"] != n {
		t.Errorf("%d of %d distinct deliveries answered queued (answers %v)", counts["queued"], n, counts)
	}
	var jobs, distinct int
	if err := queryRow(db, `SELECT count(*), count(DISTINCT args->>'mr') FROM river_job WHERE kind = 'plan'`, &jobs, &distinct); err != nil {
		t.Fatal(err)
	}
	if jobs != n || distinct != n {
		t.Errorf("%d plan jobs for %d merge requests, want %d each", jobs, distinct, n)
	}
	p.Kill()
}

// postWith delivers h once to the agent at baseURL with c, and returns the answer's code and status.
func postWith(c *http.Client, baseURL string, h gitlabfake.Hook) (int, string, error) {
	req, err := h.Request(baseURL+"/webhooks/gitlab", clitest.Secret)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Status, nil
}
