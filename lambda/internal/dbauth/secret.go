// Package dbauth supplies database credentials that can change while the function runs: a Secrets
// Manager secret (fetched once at init, fetched again once when the database rejects it after a
// rotation) or an RDS IAM authentication token (built from the function's role, rebuilt before it
// expires). Both satisfy the store's Credentials interface.
package dbauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsAPI is the one Secrets Manager call the secret source needs.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Secret is the part of an RDS database secret the function uses. Host, Port and DBName are set only when
// the secret carries them (RDS-managed master secrets hold just the username and password).
type Secret struct {
	Username string
	Password string
	Host     string
	Port     int
	DBName   string
}

// maxSecretBytes bounds the secret string parsed.
const maxSecretBytes = 64 << 10

// ParseSecret reads the JSON of an RDS database secret: {"username", "password", "host", "port",
// "dbname", ...}; port may be a number or a string. Errors never quote the secret.
func ParseSecret(s string) (Secret, error) {
	if len(s) > maxSecretBytes {
		return Secret{}, fmt.Errorf("database secret: larger than %d bytes", maxSecretBytes)
	}
	var raw struct {
		Username string          `json:"username"`
		Password string          `json:"password"`
		Host     string          `json:"host"`
		Port     json.RawMessage `json:"port"`
		DBName   string          `json:"dbname"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return Secret{}, errors.New("database secret: not a JSON object of strings")
	}
	if raw.Username == "" || raw.Password == "" {
		return Secret{}, errors.New("database secret: username and password are required")
	}
	out := Secret{Username: raw.Username, Password: raw.Password, Host: raw.Host, DBName: raw.DBName}
	if len(raw.Port) > 0 && string(raw.Port) != "null" {
		var p json.Number
		var ps string
		if json.Unmarshal(raw.Port, &ps) == nil {
			p = json.Number(ps)
		} else if json.Unmarshal(raw.Port, &p) != nil {
			return Secret{}, errors.New("database secret: port must be a number")
		}
		n, err := strconv.Atoi(string(p))
		if err != nil || n < 1 || n > 65535 {
			return Secret{}, errors.New("database secret: port must be between 1 and 65535")
		}
		out.Port = n
	}
	return out, nil
}

// SecretSource holds the current database secret. It is safe for concurrent use; mu guards cur and
// refreshed.
type SecretSource struct {
	api      SecretsAPI
	secretID string
	minGap   time.Duration

	mu        sync.Mutex
	cur       Secret
	refreshed time.Time // when Refresh last fetched; zero until the first rejection
}

// NewSecretSource fetches the secret now, at init, and fails when it cannot be had.
func NewSecretSource(ctx context.Context, api SecretsAPI, secretID string) (*SecretSource, error) {
	s := &SecretSource{api: api, secretID: secretID, minGap: 5 * time.Second}
	if err := s.fetch(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *SecretSource) fetch(ctx context.Context) error {
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &s.secretID})
	if err != nil {
		return fmt.Errorf("get database secret: %w", err)
	}
	if out.SecretString == nil {
		return errors.New("get database secret: the secret has no string value")
	}
	sec, err := ParseSecret(*out.SecretString)
	if err != nil {
		return err
	}
	s.cur = sec
	return nil
}

// Secret returns the current secret.
func (s *SecretSource) Secret() Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Credentials returns the current username and password without calling Secrets Manager.
func (s *SecretSource) Credentials(context.Context) (string, string, error) {
	sec := s.Secret()
	return sec.Username, sec.Password, nil
}

// Refresh fetches the secret again after the database rejected it. Refreshes are rate-limited: a call
// within a few seconds of the last refresh returns at once without fetching, so a burst of rejected
// logins (or a secret that is simply wrong) costs one Secrets Manager call, not one per login.
func (s *SecretSource) Refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.refreshed.IsZero() && time.Since(s.refreshed) < s.minGap {
		return nil
	}
	s.refreshed = time.Now()
	return s.fetch(ctx)
}
