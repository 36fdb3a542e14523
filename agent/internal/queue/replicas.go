package queue

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// defaultDeadAfter is how long a replica may stay silent before the others take it for dead.
const defaultDeadAfter = time.Minute

// ErrReplicaInUse is returned by Open when another live process heartbeats under the same replica id.
var ErrReplicaInUse = errors.New("the replica id is in use by a live replica")

// replicas is this process's membership among the replicas that share a PostgreSQL queue. Every running
// replica has a row in gitops_replicas whose heartbeat_at it sets to the database's now() every
// deadAfter/4 (jittered); at the same pace it looks for replicas whose heartbeat is older than deadAfter,
// by the database's clock too, and resumes their running jobs at once. life tells this process's row from
// the row of an earlier process under the same id.
type replicas struct {
	pool      *pgxpool.Pool
	id, life  string
	host      string
	deadAfter time.Duration
	log       zerolog.Logger
	onRescue  func(replica string, jobs int)
	cancel    context.CancelFunc
	done      chan struct{}
	passes    atomic.Int64 // looks for dead replicas done
}

const createReplicas = `CREATE TABLE IF NOT EXISTS gitops_replicas (
	id text PRIMARY KEY,
	life text NOT NULL,
	host text NOT NULL DEFAULT '',
	started_at timestamptz NOT NULL DEFAULT now(),
	heartbeat_at timestamptz NOT NULL DEFAULT now()
)`

// joinReplicas creates the replicas table if needed, claims id for this process (see claim) and starts
// heartbeating. lifeFile, when not empty, keeps the life of the last process that held id with this data
// dir: a replica restarting after a crash takes its id back at once instead of waiting for its own
// heartbeat to go stale.
func joinReplicas(ctx context.Context, pool *pgxpool.Pool, id string, deadAfter time.Duration, lifeFile string, log zerolog.Logger, onRescue func(string, int)) (*replicas, error) {
	host, _ := os.Hostname()
	r := &replicas{pool: pool, id: id, life: randomHex(8), host: host, deadAfter: deadAfter, log: log, onRescue: onRescue}
	// Two replicas starting together must not both create the table: CREATE TABLE IF NOT EXISTS races.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('gitops_replicas'))`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, createReplicas)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create the replicas table: %w", err)
	}
	if err := r.claim(ctx, previousLife(lifeFile, id)); err != nil {
		return nil, err
	}
	if lifeFile != "" {
		if err := os.WriteFile(lifeFile, []byte(id+"\n"+r.life+"\n"), 0o600); err != nil {
			log.Warn().Err(err).Msg("remember this replica's life in the data dir")
		}
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go r.run(loopCtx)
	return r, nil
}

// claim makes this process the holder of r.id. The id is free when nobody holds it, when its holder's
// heartbeat is older than deadAfter, or when its holder is previous (this data dir's last process under
// the id, which is gone since this one runs). Otherwise claim watches the holder: a heartbeat that advances
// means a live process uses the id, and claim returns ErrReplicaInUse; a holder that stays silent is dead
// once deadAfter has passed, and claim takes the id. It waits at most about deadAfter.
func (r *replicas) claim(ctx context.Context, previous string) error {
	var seen *holder
	for {
		var got string
		err := r.pool.QueryRow(ctx, `INSERT INTO gitops_replicas (id, life, host, started_at, heartbeat_at)
			VALUES ($1, $2, $3, now(), now())
			ON CONFLICT (id) DO UPDATE SET life = excluded.life, host = excluded.host, started_at = now(), heartbeat_at = now()
			WHERE gitops_replicas.heartbeat_at < now() - make_interval(secs => $4) OR gitops_replicas.life = $5
			RETURNING id`, r.id, r.life, r.host, r.deadAfter.Seconds(), previous).Scan(&got)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("claim replica id %q: %w", r.id, err)
		}
		h, err := r.holder(ctx)
		switch {
		case errors.Is(err, pgx.ErrNoRows): // its holder was just found dead and removed: claim again
			continue
		case err != nil:
			return fmt.Errorf("claim replica id %q: %w", r.id, err)
		case seen == nil:
			seen = &h
			r.log.Warn().Str("replica", r.id).Str("host", h.host).Dur("silent", h.silent).
				Msg("another process heartbeated under this replica id lately: waiting to see whether it is alive")
		case h.life != seen.life || !h.heartbeat.Equal(seen.heartbeat):
			return fmt.Errorf("replica id %q (held from host %q): %w: give every replica its own id, or leave it unset", r.id, h.host, ErrReplicaInUse)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("claim replica id %q: %w", r.id, ctx.Err())
		case <-time.After(r.deadAfter / 8):
		}
	}
}

// holder is what claim sees of the row of another process holding the id.
type holder struct {
	life, host string
	heartbeat  time.Time
	silent     time.Duration
}

func (r *replicas) holder(ctx context.Context) (h holder, err error) {
	err = r.pool.QueryRow(ctx, `SELECT life, host, heartbeat_at, now() - heartbeat_at FROM gitops_replicas WHERE id = $1`, r.id).
		Scan(&h.life, &h.host, &h.heartbeat, &h.silent)
	return h, err
}

// run heartbeats and rescues every deadAfter/4, jittered by ±25 % so replicas spread their queries.
//
// A replica looks for dead ones only after its own heartbeats have gone through, without a gap, for
// deadAfter: after the database was out of everybody's reach for longer than deadAfter, every heartbeat
// is stale, and a replica that looked at once would take its live peers for dead. Waiting one deadAfter
// gives every live replica the time to heartbeat again.
func (r *replicas) run(ctx context.Context) {
	defer close(r.done)
	healthy := time.Now() // the claim was a heartbeat
	for {
		d := time.Duration(float64(r.deadAfter/4) * (0.75 + rand.Float64()/2))
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		now := time.Now()
		continuous, err := r.heartbeat(ctx)
		switch {
		case err != nil:
			healthy = time.Time{}
			if ctx.Err() == nil {
				r.log.Warn().Err(err).Str("replica", r.id).Msg("heartbeat")
			}
			continue
		case !continuous:
			healthy = now
		case healthy.IsZero():
			healthy = now
		}
		if now.Sub(healthy) < r.deadAfter {
			continue
		}
		if err := r.rescue(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn().Err(err).Str("replica", r.id).Msg("look for dead replicas")
		}
		r.passes.Add(1)
	}
}

// heartbeat sets this replica's heartbeat to now, and reports whether its previous one was less than
// deadAfter old. A replica whose own heartbeat is older (the database was out of its reach, or the
// process was paused) may have been taken for dead, and its running jobs resumed elsewhere: it says so
// and joins again.
func (r *replicas) heartbeat(ctx context.Context) (continuous bool, err error) {
	tag, err := r.pool.Exec(ctx, `UPDATE gitops_replicas SET heartbeat_at = now()
		WHERE id = $1 AND life = $2 AND heartbeat_at >= now() - make_interval(secs => $3)`, r.id, r.life, r.deadAfter.Seconds())
	if err != nil {
		return false, fmt.Errorf("write the heartbeat: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	r.log.Error().Str("replica", r.id).
		Msg("this replica was silent longer than its dead-after time: other replicas may have resumed the jobs it runs")
	tag, err = r.pool.Exec(ctx, `INSERT INTO gitops_replicas (id, life, host) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
		WHERE gitops_replicas.life = $2 OR gitops_replicas.heartbeat_at < now() - make_interval(secs => $4)`,
		r.id, r.life, r.host, r.deadAfter.Seconds())
	if err != nil {
		return false, fmt.Errorf("join the replicas again: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, fmt.Errorf("join the replicas again: %w: another process took replica id %q", ErrReplicaInUse, r.id)
	}
	return false, nil
}

// rescueDead resumes, in one statement, the running jobs of every dead replica: one whose heartbeat is
// older than $2 seconds, or one without a row (it never heartbeated, or its row is gone) whose job started
// more than $2 seconds ago. Its own jobs ($1) are never touched. Concurrent rescuers are safe: a job row is
// updated once (the second UPDATE finds it no longer running). The dead replicas' rows are deleted.
const rescueDead = `WITH dead AS (
	SELECT id FROM gitops_replicas WHERE heartbeat_at < now() - make_interval(secs => $2)
), resumed AS (
	UPDATE river_job j SET state = 'available', scheduled_at = now()
	WHERE j.state = 'running'
		AND j.attempted_by[array_upper(j.attempted_by, 1)] <> $1
		AND (j.attempted_by[array_upper(j.attempted_by, 1)] IN (SELECT id FROM dead)
			OR (j.attempted_at < now() - make_interval(secs => $2)
				AND NOT EXISTS (SELECT 1 FROM gitops_replicas r WHERE r.id = j.attempted_by[array_upper(j.attempted_by, 1)])))
	RETURNING j.attempted_by[array_upper(j.attempted_by, 1)] AS replica
), gone AS (
	DELETE FROM gitops_replicas WHERE id IN (SELECT id FROM dead) AND heartbeat_at < now() - make_interval(secs => $2)
	RETURNING id
)
SELECT replica, count(*) FROM resumed GROUP BY replica`

// rescue resumes the running jobs of the dead replicas, logs each rescue and reports it to onRescue.
func (r *replicas) rescue(ctx context.Context) error {
	rows, err := r.pool.Query(ctx, rescueDead, r.id, r.deadAfter.Seconds())
	if err != nil {
		return fmt.Errorf("resume the jobs of dead replicas: %w", err)
	}
	type rescued struct {
		replica string
		jobs    int
	}
	var all []rescued
	for rows.Next() {
		var x rescued
		if err := rows.Scan(&x.replica, &x.jobs); err != nil {
			rows.Close()
			return fmt.Errorf("resume the jobs of dead replicas: %w", err)
		}
		all = append(all, x)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("resume the jobs of dead replicas: %w", err)
	}
	for _, x := range all {
		r.log.Warn().Str("replica", x.replica).Int("jobs", x.jobs).Str("by", r.id).Msg("resumed jobs of a dead replica")
		if r.onRescue != nil {
			r.onRescue(x.replica, x.jobs)
		}
	}
	return nil
}

// leave stops heartbeating and removes this replica's row: a clean stop is no death to rescue from.
func (r *replicas) leave(ctx context.Context) {
	r.cancel()
	<-r.done
	if _, err := r.pool.Exec(ctx, `DELETE FROM gitops_replicas WHERE id = $1 AND life = $2`, r.id, r.life); err != nil {
		r.log.Warn().Err(err).Str("replica", r.id).Msg("remove this replica from the replicas table")
	}
}

// previousLife reads the life that lifeFile remembers for id, or "" (none, another id, unreadable).
func previousLife(lifeFile, id string) string {
	if lifeFile == "" {
		return ""
	}
	b, err := os.ReadFile(lifeFile)
	if err != nil {
		return ""
	}
	gotID, life, _ := strings.Cut(strings.TrimSuffix(string(b), "\n"), "\n")
	if gotID != id {
		return ""
	}
	return life
}

// lifeFileIn is where a replica remembers its life in dataDir; "" when there is no data dir.
func lifeFileIn(dataDir string) string {
	if dataDir == "" {
		return ""
	}
	return filepath.Join(dataDir, "replica")
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}
