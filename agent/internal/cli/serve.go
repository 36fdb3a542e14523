package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitlab"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/gitops"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/ledger"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/lock"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/metrics"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/pipeline"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/poller"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/queue"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/server"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/source"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/spool"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/statuspage"
	"gitlab.com/gitops-agent/gitops-agent/agent/internal/webhook"
)

func runServe(ctx context.Context, args []string, env Env) int {
	dumpErr := notDumpable() // before any secret is read
	if len(args) > 0 {
		return fail(env, fmt.Errorf("serve takes no arguments (configuration is by environment), got %q", args[0]))
	}
	s, err := readSettings(env.Getenv, serving)
	if err != nil {
		return fail(env, fmt.Errorf("serve: %w", err))
	}
	log := zerolog.New(env.Stderr).Level(s.LogLevel).With().Timestamp().Logger()
	if dumpErr != nil {
		log.Warn().Err(dumpErr).Msg("could not make the process non-dumpable: other processes of its user may read its memory")
	}
	if err := checkToken(ctx, s, &log); err != nil {
		return fail(env, fmt.Errorf("serve: %w", err))
	}
	if err := serve(ctx, s, &log); err != nil {
		log.Error().Err(err).Msg("serve stopped")
		return ExitError
	}
	return ExitOK
}

// tokenCheckTimeout bounds the start-up check of GITLAB_TOKEN.
const tokenCheckTimeout = 20 * time.Second

// checkToken asks GitLab who GITLAB_TOKEN belongs to (GET /user) and logs the username. GitLab refusing
// the token (401, or 403: a token without the api scope) is an error: no job could succeed. GitLab not
// answering is only a warning: it may be back before the first job, and jobs retry transient failures.
func checkToken(ctx context.Context, s settings, log *zerolog.Logger) error {
	gl, err := gitlab.New(s.GitLabURL, s.GitLabToken, gitlab.WithRetries(1))
	if err != nil {
		return fmt.Errorf("gitlab client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, tokenCheckTimeout)
	defer cancel()
	name, err := gl.Username(ctx)
	switch {
	case errors.Is(err, gitlab.ErrUnauthorized):
		return fmt.Errorf("GitLab at %s refused GITLAB_TOKEN (401 Unauthorized): the token is wrong, revoked or expired", s.GitLabURL)
	case errors.Is(err, gitlab.ErrForbidden):
		return fmt.Errorf("GitLab at %s refused GITLAB_TOKEN (403 Forbidden): it needs the api scope", s.GitLabURL)
	case err != nil:
		log.Warn().Err(err).Str("gitlab", s.GitLabURL).Msg("could not check GITLAB_TOKEN: GitLab did not answer; starting anyway")
		return nil
	}
	log.Info().Str("gitlab", s.GitLabURL).Str("user", name).Msg("GitLab token works")
	return nil
}

// serve runs the agent until ctx ends, then drains: it stops taking webhooks, lets running jobs finish
// within the shutdown period and returns the rest to the queue.
func serve(ctx context.Context, s settings, log *zerolog.Logger) error {
	if err := makeDataDir(s.DataDir); err != nil {
		return err
	}
	gl, err := gitlab.New(s.GitLabURL, s.GitLabToken, gitlab.WithMaxInFlight(s.GitLabMaxInFlight),
		gitlab.WithResponseTimeout(s.GitLabTimeout), gitlab.WithLogger(log))
	if err != nil {
		return fmt.Errorf("gitlab client: %w", err)
	}
	var q *queue.Queue
	m := metrics.New(func(ctx context.Context) (int, error) { return q.Depth(ctx) })
	src := source.NewCache(filepath.Join(s.DataDir, "src"), gl.Archive, source.Limits{})
	sb, err := newSandbox(ctx, s, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := sb.Close(); err != nil {
			log.Warn().Err(err).Msg("close the sandbox")
		}
	}()
	m.Sandbox(string(sb.Mode()))
	tf, err := newTerraform(s, sb, log)
	if err != nil {
		return err
	}
	runner := newRunner(s, tf, gl, src, m, s.Secrets, log)
	hub := &statuspage.Hub{Mask: s.Secrets.Mask}
	runner.Terraform = workspaces{r: tf, hub: hub}
	l, locker, err := openStores(ctx, s)
	if err != nil {
		return err
	}
	defer l.Close()
	defer locker.Close()
	runner.Ledger, runner.Locker, runner.Credentials = l, locker, stageCredentials(s)
	b, err := newBuilder(ctx, s, sb, s.DataDir, log)
	if err != nil {
		return err
	}
	runner.Functions, runner.Releases, runner.Deploys = functions{builder: b, poll: s.AlarmPoll, lambdaURL: s.LambdaEndpoint, cloudWatchURL: s.CloudWatchEndpoint, log: log}, l, gl
	runner.ObserveRelease, runner.AlarmPoll = m.Release, s.AlarmPoll
	runner.Reverts, runner.Rollbacks = reverts{gl, s.Secrets}, l
	status := newStatusPage(l, gl, hub, s.Secrets, log)
	var running atomic.Bool
	q, err = queue.Open(ctx, queue.Options{
		DatabaseURL: s.DatabaseURL,
		DataDir:     s.DataDir,
		MaxWorkers:  max(10, 2*s.MaxParallel),
		Logger:      log,
		// SQLite has no notifier: workers find new jobs by polling, so poll often (a cheap indexed query).
		PollInterval: pollInterval(s.DatabaseURL),
		Handlers:     withDrift(jobHandlers(runner, m, log), s, runner, l, gl, m, log),
		ReplicaID:    s.ReplicaID,
		RescueAfter:  s.RescueAfter,
		DeadAfter:    s.DeadAfter,
		OnRescue:     m.Rescue,
	})
	if errors.Is(err, queue.ErrReplicaInUse) {
		return fmt.Errorf("GITOPS_REPLICA_ID: %w", err)
	}
	if err != nil {
		return err
	}
	if err := q.Start(ctx); err != nil {
		return err
	}
	running.Store(true)

	sp, err := openSpool(s, m, log)
	if err != nil {
		_ = q.Stop(context.Background())
		return err
	}
	defer sp.Close()
	hook := webhook.New(webhook.Options{
		Secret: s.WebhookSecret, ProjectSecrets: s.ProjectSecrets, Projects: s.Projects,
		Queue: q, Logger: log, Observe: m.Event, Promote: true, Seen: l,
		Spool: func(d webhook.Spooled) (string, error) { return sp.Put(spool.Entry(d)) },
	})
	web, err := listen(s, server.Deps{
		Webhook:     hook,
		SpoolRoom:   sp.Room,
		Metrics:     m.Handler(),
		Deployments: l.Handler(log),
		Status:      status.Index(),
		Run:         status.Run(),
		RunEvents:   status.Events(),
		Ready: func(ctx context.Context) error {
			if !running.Load() {
				return errors.New("workers are not running")
			}
			if err := q.Ping(ctx); err != nil {
				return fmt.Errorf("the queue's %w", server.ErrDatabase)
			}
			if err := l.Ping(ctx); err != nil {
				return fmt.Errorf("the ledger's %w", server.ErrDatabase)
			}
			return nil
		},
	}, log)
	if err != nil {
		_ = q.Stop(context.Background())
		return err
	}
	log.Info().Bool("postgres", s.DatabaseURL != "").Str("terraform", tf.Binary()).Msg("serving")

	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	if s.PollInterval > 0 {
		go runPoller(pollCtx, s, gl, q, l, log)
	}
	go sp.Drain(pollCtx, func(ctx context.Context, e spool.Entry) error { return hook.Redeliver(ctx, webhook.Spooled(e)) })
	go prune(pollCtx, src, log)

	select {
	case <-ctx.Done():
	case err = <-web.errs:
	}
	log.Info().Msg("shutting down")
	stopPolling()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.ShutdownPeriod)
	defer cancel()
	web.shutdown(shutdownCtx)
	running.Store(false)
	return errors.Join(err, q.Stop(shutdownCtx))
}

// openStores opens the ledger and the locks: in PostgreSQL when DATABASE_URL is set (replicas share
// them), else the SQLite ledger in the data dir and process-wide locks.
func openStores(ctx context.Context, s settings) (*ledger.Ledger, *lock.Locker, error) {
	l, err := ledger.Open(ctx, s.DatabaseURL, s.DataDir)
	if err != nil {
		return nil, nil, err
	}
	if s.DatabaseURL == "" {
		return l, lock.NewLocal(), nil
	}
	locker, err := lock.NewPostgres(ctx, s.DatabaseURL)
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	return l, locker, nil
}

// jobHandlers runs the queue's jobs with the pipeline, each with a logger naming the job in its context.
func jobHandlers(runner *pipeline.Runner, m *metrics.Metrics, log *zerolog.Logger) queue.Handlers {
	return queue.Handlers{
		Command: commandHandler(runner, m, log),
		Plan: func(ctx context.Context, req gitops.PlanRequest, job queue.Job) error {
			jlog := log.With().Int64("job", job.ID).Int("attempt", job.Attempt).Str("kind", "plan").Logger()
			start := time.Now()
			err := runner.HandlePlan(jlog.WithContext(ctx), req, pipeline.Attempt{Last: job.LastAttempt(), Supersede: job.Supersede})
			m.Job("plan", time.Since(start), err != nil)
			return err
		},
		Promote: func(ctx context.Context, req gitops.PromoteRequest, job queue.Job) error {
			jlog := log.With().Int64("job", job.ID).Int("attempt", job.Attempt).Str("kind", "promote").Logger()
			start := time.Now()
			err := runner.HandlePromote(jlog.WithContext(ctx), req, pipeline.Attempt{
				Last: job.LastAttempt(), Earlier: job.Earlier, Later: job.Later, Wait: job.Snooze, Watch: job.QueueWatch,
				Rollback: job.QueueRollback,
			})
			m.Job("promote", time.Since(start), err != nil)
			return err
		},
		Watch: func(ctx context.Context, req gitops.WatchRequest, job queue.Job) error {
			jlog := log.With().Int64("job", job.ID).Int("attempt", job.Attempt).Str("kind", "watch").Logger()
			return runner.HandleWatch(jlog.WithContext(ctx), req, pipeline.Attempt{Last: job.LastAttempt(), Wait: job.Snooze, Rollback: job.QueueRollback})
		},
		Rollback: func(ctx context.Context, req gitops.RollbackRequest, job queue.Job) error {
			jlog := log.With().Int64("job", job.ID).Int("attempt", job.Attempt).Str("kind", "rollback").Logger()
			start := time.Now()
			err := runner.HandleRollback(jlog.WithContext(ctx), req, pipeline.Attempt{Last: job.LastAttempt(), Wait: job.Snooze})
			m.Job("rollback", time.Since(start), err != nil)
			return err
		},
	}
}

func runPoller(ctx context.Context, s settings, gl *gitlab.Client, q *queue.Queue, l *ledger.Ledger, log *zerolog.Logger) {
	var paths []string
	for _, p := range s.Projects {
		_, path, err := gl.Project(ctx, p)
		if err != nil {
			log.Warn().Err(err).Str("project", p).Msg("poller: resolve project; it is not polled")
			continue
		}
		paths = append(paths, path)
	}
	p := &poller.Poller{Projects: paths, Interval: s.PollInterval, Lister: gl, Queue: q, Logger: log, Promote: true}
	if len(s.Projects) == 0 {
		// Without an allowlist every project is served: watch those webhooks came from. With one, the
		// allowlist is what is served and watched, whatever came before.
		p.Seen = l.SeenProjects
	}
	p.Run(ctx)
}

// openSpool opens the webhook spool (GITOPS_SPOOL_DIR) and registers its metrics.
func openSpool(s settings, m *metrics.Metrics, log *zerolog.Logger) (*spool.Spool, error) {
	var sp *spool.Spool
	drained := m.Spool(func() (int, int64) { return sp.Stats() })
	sp, err := spool.Open(spool.Options{Dir: s.SpoolDir, MaxBytes: s.SpoolMaxBytes, Drained: drained, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("webhook spool: %w", err)
	}
	return sp, nil
}

// keepSources is how long extracted source trees stay in the data dir: they are fetched again when needed.
// (Saved plans need no retention: each job removes its own.)
const keepSources = 24 * time.Hour

// prune removes, every hour until ctx ends, the source trees past their retention, so the data dir does
// not grow without bound.
func prune(ctx context.Context, src *source.Cache, log *zerolog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := src.Prune(keepSources); err != nil {
			log.Warn().Err(err).Msg("prune source trees")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pollInterval is how often idle workers look for jobs nothing woke them for. A new job wakes them at once
// (on SQLite the inserting process's own workers, directly; on PostgreSQL every replica's, by LISTEN/NOTIFY),
// but a promotion put back to wait for an earlier one becomes due without a wake-up: polling finds it, so
// it is frequent enough for that wait to end soon after it is due.
func pollInterval(databaseURL string) time.Duration {
	if databaseURL == "" {
		return 100 * time.Millisecond
	}
	return 250 * time.Millisecond
}
