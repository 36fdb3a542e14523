// Package store keeps documents in PostgreSQL through a pgx pool sized and configured for Lambda: few
// connections, no named prepared statements (so RDS Proxy never pins a session), and credentials that can
// come from a provider (IAM auth token, Secrets Manager) and be refreshed once on an authentication failure.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
)

// Credentials supplies the database user and password for each new connection. Refresh is called after
// the server rejected them; it must fetch fresh ones (coalescing concurrent calls) or return an error.
type Credentials interface {
	Credentials(ctx context.Context) (user, password string, err error)
	Refresh(ctx context.Context) error
}

// Config says how to reach the database.
type Config struct {
	// URL is a libpq-style connection string. With Credentials set, its user and password are replaced
	// for every new connection.
	URL string
	// MaxConns caps the pool; 0 means 2, the right size for one Lambda execution environment.
	MaxConns int32
	// Credentials, when set, supplies the user and password (IAM token or Secrets Manager secret).
	Credentials Credentials
	Logger      *zerolog.Logger
}

// Store is the documents table. It is safe for concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	creds Credentials
	log   *zerolog.Logger
}

// Open builds the pool without connecting; the first query (or Ping) connects. Unless the URL names a
// default_query_exec_mode, queries use pgx's describe cache over unnamed statements.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, errors.New("parse database URL: invalid connection string") // the URL may hold a password
	}
	pc.MaxConns = cfg.MaxConns
	if pc.MaxConns <= 0 {
		pc.MaxConns = 2
	}
	pc.MinConns = 0
	pc.MaxConnIdleTime = 5 * time.Minute
	pc.MaxConnLifetime = 30 * time.Minute
	if _, set := pc.ConnConfig.RuntimeParams["default_query_exec_mode"]; !set {
		pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
	delete(pc.ConnConfig.RuntimeParams, "default_query_exec_mode")
	if cfg.Credentials != nil {
		creds := cfg.Credentials
		pc.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			user, pass, err := creds.Credentials(ctx)
			if err != nil {
				return fmt.Errorf("database credentials: %w", err)
			}
			cc.User, cc.Password = user, pass
			return nil
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		nop := zerolog.Nop()
		log = &nop
	}
	return &Store{pool: pool, creds: cfg.Credentials, log: log}, nil
}

// Close closes every connection.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that a connection can be had and answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.retryAuth(ctx, func(ctx context.Context) error { return s.pool.Ping(ctx) })
}

// Stats reports the pool's connection counts: total open and currently acquired.
func (s *Store) Stats() (total, acquired int32) {
	st := s.pool.Stat()
	return st.TotalConns(), st.AcquiredConns()
}

// retryAuth runs fn and, when the server rejected the credentials, refreshes them once and runs fn again.
// An authentication failure happens before any statement runs, so repeating fn is safe.
func (s *Store) retryAuth(ctx context.Context, fn func(context.Context) error) error {
	err := fn(ctx)
	if err == nil || s.creds == nil || !isAuthFailure(err) {
		return err
	}
	s.log.Warn().Msg("database rejected the credentials; fetching them again")
	if rerr := s.creds.Refresh(ctx); rerr != nil {
		return fmt.Errorf("%w (refresh credentials: %w)", err, rerr)
	}
	return fn(ctx)
}

// isAuthFailure reports whether err is the server rejecting a login: invalid_password (28P01) or
// invalid_authorization_specification (28000, what RDS answers for an expired IAM token).
func isAuthFailure(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000")
}

const columns = `id::text, name, content_type, size, metadata, state, object_key, coalesce(upload_id, ''), coalesce(etag, ''), created_at, updated_at`

func scanDocument(row pgx.Row) (document.Document, error) {
	var d document.Document
	var meta []byte
	var state string
	err := row.Scan(&d.ID, &d.Name, &d.ContentType, &d.Size, &meta, &state, &d.ObjectKey, &d.UploadID, &d.ETag, &d.CreatedAt, &d.UpdatedAt)
	if err != nil {
		return document.Document{}, err
	}
	d.State = document.State(state)
	if err := json.Unmarshal(meta, &d.Metadata); err != nil {
		return document.Document{}, fmt.Errorf("decode metadata of %s: %w", d.ID, err)
	}
	if d.Metadata == nil {
		d.Metadata = map[string]string{}
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return d, nil
}

// Create inserts d (state, id, object key and upload id as given) and returns it with the timestamps the
// database assigned.
func (s *Store) Create(ctx context.Context, d document.Document) (document.Document, error) {
	meta, err := json.Marshal(nonNil(d.Metadata))
	if err != nil {
		return document.Document{}, fmt.Errorf("encode metadata: %w", err)
	}
	var out document.Document
	err = s.retryAuth(ctx, func(ctx context.Context) error {
		out, err = scanDocument(s.pool.QueryRow(ctx, `INSERT INTO documents
			(id, name, content_type, size, metadata, state, object_key, upload_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''))
			RETURNING `+columns,
			d.ID, d.Name, d.ContentType, d.Size, meta, string(d.State), d.ObjectKey, d.UploadID))
		return err
	})
	if err != nil {
		return document.Document{}, fmt.Errorf("insert document: %w", err)
	}
	return out, nil
}

// Get returns the document with id, or document.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (document.Document, error) {
	if !document.ValidID(id) {
		return document.Document{}, document.ErrNotFound
	}
	var out document.Document
	err := s.retryAuth(ctx, func(ctx context.Context) error {
		var err error
		out, err = scanDocument(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM documents WHERE id = $1`, id))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return document.Document{}, document.ErrNotFound
	}
	if err != nil {
		return document.Document{}, fmt.Errorf("select document: %w", err)
	}
	return out, nil
}

// MarkReady records the object's size and ETag, clears the upload id and sets the state to ready. It
// returns document.ErrNotFound when the row is gone.
func (s *Store) MarkReady(ctx context.Context, id string, size int64, etag string) (document.Document, error) {
	if !document.ValidID(id) {
		return document.Document{}, document.ErrNotFound
	}
	var out document.Document
	err := s.retryAuth(ctx, func(ctx context.Context) error {
		var err error
		out, err = scanDocument(s.pool.QueryRow(ctx, `UPDATE documents
			SET state = 'ready', size = $2, etag = $3, upload_id = NULL, updated_at = now()
			WHERE id = $1 RETURNING `+columns, id, size, etag))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return document.Document{}, document.ErrNotFound
	}
	if err != nil {
		return document.Document{}, fmt.Errorf("update document: %w", err)
	}
	return out, nil
}

// Delete removes the row and reports whether it existed.
func (s *Store) Delete(ctx context.Context, id string) (bool, error) {
	if !document.ValidID(id) {
		return false, nil
	}
	var n int64
	err := s.retryAuth(ctx, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `DELETE FROM documents WHERE id = $1`, id)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("delete document: %w", err)
	}
	return n > 0, nil
}

// List returns up to limit documents after the cursor, newest first with ties broken by id descending.
// Rows inserted or deleted between pages never make a page repeat or skip a document that existed
// throughout.
func (s *Store) List(ctx context.Context, after document.Cursor, limit int) (document.Page, error) {
	if limit <= 0 {
		return document.Page{}, errors.New("list documents: limit must be positive")
	}
	var page document.Page
	err := s.retryAuth(ctx, func(ctx context.Context) error {
		var rows pgx.Rows
		var err error
		if after.IsZero() {
			rows, err = s.pool.Query(ctx, `SELECT `+columns+` FROM documents
				ORDER BY created_at DESC, id DESC LIMIT $1`, limit+1)
		} else {
			rows, err = s.pool.Query(ctx, `SELECT `+columns+` FROM documents
				WHERE (created_at, id) < ($1, $2::uuid)
				ORDER BY created_at DESC, id DESC LIMIT $3`, after.CreatedAt, after.ID, limit+1)
		}
		if err != nil {
			return err
		}
		docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (document.Document, error) { return scanDocument(r) })
		if err != nil {
			return err
		}
		page = document.Page{Documents: docs}
		return nil
	})
	if err != nil {
		return document.Page{}, fmt.Errorf("list documents: %w", err)
	}
	if len(page.Documents) > limit {
		page.Documents = page.Documents[:limit]
		last := page.Documents[limit-1]
		page.Next = document.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return page, nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
