// Package spool keeps webhook deliveries on the local disk while the queue's database does not answer, so
// that an answered delivery survives a crash of the host, and hands them on, oldest first, once it answers
// again.
//
// Each entry is one file in the spool's directory, written to a temporary name, fsynced, renamed to its
// final name and the directory fsynced: a file with a final name is complete. A crash mid-write leaves only
// a temporary file; Open sets it aside, with any entry that does not read back whole (truncated, altered),
// in the bad/ directory below, with a log line, for an operator to look at. The spool is bounded by the
// bytes and the number of its entries: a full spool refuses a delivery with ErrFull. Entries set aside do
// not count.
//
// One process owns a spool directory at a time (an exclusive flock on its .lock file).
package spool

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Options.
const (
	DefaultMaxBytes   = 256 << 20
	DefaultMaxEntries = 100_000
)

// maxField bounds an entry's kind and delivery id.
const maxField = 255

const (
	suffix     = ".entry"
	tempPrefix = ".tmp-"
	lockName   = ".lock"
	badDir     = "bad"
	magic      = "gitops-spool 1\n"
)

// ErrFull is returned by Put when the entry would exceed the spool's bounds.
var ErrFull = errors.New("the spool is full")

// Entry is one spooled delivery.
type Entry struct {
	ID       string    // the entry's name in the spool, set by Put; ignored by Put
	Kind     string    // X-Gitlab-Event
	Delivery string    // X-Gitlab-Event-UUID; may be empty
	Received time.Time // when the delivery was received; Put sets now when zero
	Body     []byte    // the delivery's body, as received
}

// Options configure a spool.
type Options struct {
	Dir        string // created (0700) when missing
	MaxBytes   int64  // bound on the entries' total size on disk; 0 means DefaultMaxBytes
	MaxEntries int    // bound on the number of entries; 0 means DefaultMaxEntries
	// Retry is Drain's first wait after a failed hand-on, doubled at each failure up to MaxRetry; 0 means
	// 1s and 30s.
	Retry, MaxRetry time.Duration
	// Drained, when set, is called once for each entry Drain hands on and removes (for metrics).
	Drained func()
	Logger  *zerolog.Logger
}

// Spool is a durable, bounded spool of deliveries. Its methods are safe for concurrent use; run one Drain
// at a time.
type Spool struct {
	dir             string
	maxBytes        int64
	maxEntries      int
	retry, maxRetry time.Duration
	drained         func()
	log             zerolog.Logger
	lock            *os.File
	wake            chan struct{}
	mu              sync.Mutex // guards what follows
	names           []string   // committed entries, oldest first
	sizes           map[string]int64
	used, reserved  int64 // bytes of committed entries, and of entries being written
	pending         int   // entries being written
	last            int64 // the time stamp of the newest name given
	closed          bool
	closeOnce       sync.Once
}

// Open opens the spool in opts.Dir, creating it when missing, and indexes the entries a previous process
// left, setting aside partial and corrupt ones. It fails when another process holds the directory.
func Open(opts Options) (*Spool, error) {
	if opts.Dir == "" {
		return nil, errors.New("open spool: no directory")
	}
	if opts.MaxBytes < 0 || opts.MaxEntries < 0 {
		return nil, fmt.Errorf("open spool %s: negative bound", opts.Dir)
	}
	s := &Spool{
		dir: opts.Dir, maxBytes: opts.MaxBytes, maxEntries: opts.MaxEntries, retry: opts.Retry, maxRetry: opts.MaxRetry,
		drained: opts.Drained, log: zerolog.Nop(), wake: make(chan struct{}, 1), sizes: map[string]int64{},
	}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxBytes
	}
	if s.maxEntries == 0 {
		s.maxEntries = DefaultMaxEntries
	}
	if s.retry <= 0 {
		s.retry = time.Second
	}
	if s.maxRetry < s.retry {
		s.maxRetry = max(s.retry, 30*time.Second)
	}
	if s.drained == nil {
		s.drained = func() {}
	}
	if opts.Logger != nil {
		s.log = *opts.Logger
	}
	if err := os.MkdirAll(filepath.Join(s.dir, badDir), 0o700); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(s.dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("open spool %s: another process holds it: %w", s.dir, err)
	}
	s.lock = lock
	if err := s.index(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// index reads the directory: complete entries are indexed, anything else is set aside.
func (s *Spool) index() error {
	files, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("read spool %s: %w", s.dir, err)
	}
	for _, f := range files {
		name := f.Name()
		switch {
		case f.IsDir() || name == lockName:
			continue
		case strings.HasPrefix(name, tempPrefix):
			s.setAside(name, errors.New("partial entry: the process stopped while writing it"))
			continue
		case !validName(name):
			s.setAside(name, errors.New("not a spool entry"))
			continue
		}
		info, err := f.Info()
		if err == nil {
			_, err = s.read(name)
		}
		if err != nil {
			s.setAside(name, err)
			continue
		}
		size := info.Size()
		s.names = append(s.names, name)
		s.sizes[name] = size
		s.used += size
	}
	slices.Sort(s.names)
	if n := len(s.names); n > 0 {
		s.last, _ = strconv.ParseInt(strings.TrimSuffix(s.names[n-1], suffix), 10, 64)
		s.log.Info().Int("entries", n).Int64("bytes", s.used).Str("dir", s.dir).Msg("spool: deliveries left by a previous run")
	}
	return nil
}

// Close releases the directory. Calling it again does nothing.
func (s *Spool) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		if s.lock != nil {
			_ = syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
			_ = s.lock.Close()
		}
	})
}

// Stats returns the number of entries waiting and their bytes on disk.
func (s *Spool) Stats() (entries int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.names), s.used
}

// Room returns nil while the spool takes more entries, else an error wrapping ErrFull.
func (s *Spool) Room() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.names)+s.pending >= s.maxEntries || s.used+s.reserved >= s.maxBytes {
		return fmt.Errorf("%w: %d entries, %d bytes", ErrFull, len(s.names)+s.pending, s.used+s.reserved)
	}
	return nil
}

// Put writes e durably and returns its id: once Put returns nil, the entry survives a crash of the host.
// It returns an error wrapping ErrFull when e would exceed the bounds, and refuses an empty kind and a
// kind or delivery id over 255 bytes.
func (s *Spool) Put(e Entry) (string, error) {
	if e.Kind == "" || len(e.Kind) > maxField || len(e.Delivery) > maxField {
		return "", errors.New("spool: an entry needs a kind, and a kind and delivery id of at most 255 bytes")
	}
	if e.Received.IsZero() {
		e.Received = time.Now()
	}
	data, err := encode(e)
	if err != nil {
		return "", err
	}
	size := int64(len(data))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", errors.New("spool: closed")
	}
	if len(s.names)+s.pending >= s.maxEntries || s.used+s.reserved+size > s.maxBytes {
		n, b := len(s.names)+s.pending, s.used+s.reserved
		s.mu.Unlock()
		return "", fmt.Errorf("%w: %d entries, %d of %d bytes used, %d more needed", ErrFull, n, b, s.maxBytes, size)
	}
	s.pending++
	s.reserved += size
	name := s.nextName()
	s.mu.Unlock()

	err = s.write(name, data)
	s.mu.Lock()
	s.pending--
	s.reserved -= size
	if err == nil {
		i, _ := slices.BinarySearch(s.names, name)
		s.names = slices.Insert(s.names, i, name)
		s.sizes[name] = size
		s.used += size
	}
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return name, nil
}

// nextName returns a new entry name that sorts after every name given before. Call with s.mu held.
func (s *Spool) nextName() string {
	ts := time.Now().UnixNano()
	if ts <= s.last {
		ts = s.last + 1
	}
	s.last = ts
	return fmt.Sprintf("%020d%s", ts, suffix)
}

// write writes data to a temporary file, fsyncs it, renames it to name and fsyncs the directory.
func (s *Spool) write(name string, data []byte) (err error) {
	tmp := filepath.Join(s.dir, tempPrefix+name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("spool: write entry: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("spool: sync entry: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("spool: close entry: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("spool: sync directory: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// header is an entry file's second line; the body follows it.
type header struct {
	Kind     string    `json:"kind"`
	Delivery string    `json:"delivery,omitempty"`
	Received time.Time `json:"received"`
	Size     int       `json:"size"`
	CRC      uint32    `json:"crc32c"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encode(e Entry) ([]byte, error) {
	h, err := json.Marshal(header{Kind: e.Kind, Delivery: e.Delivery, Received: e.Received.UTC(), Size: len(e.Body), CRC: crc32.Checksum(e.Body, castagnoli)})
	if err != nil {
		return nil, fmt.Errorf("spool: encode entry: %w", err)
	}
	var b bytes.Buffer
	b.Grow(len(magic) + len(h) + 1 + len(e.Body))
	b.WriteString(magic)
	b.Write(h)
	b.WriteByte('\n')
	b.Write(e.Body)
	return b.Bytes(), nil
}

// read reads entry name back whole, or returns why it cannot.
func (s *Spool) read(name string) (Entry, error) {
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Entry{}, err
	}
	if st.Size() > s.maxBytes+(1<<20) {
		return Entry{}, fmt.Errorf("entry of %d bytes, larger than the spool", st.Size())
	}
	r := bufio.NewReader(io.LimitReader(f, st.Size()))
	first, err := r.ReadString('\n')
	if err != nil || first != magic {
		return Entry{}, errors.New("corrupt entry: no spool header")
	}
	line, err := r.ReadBytes('\n')
	var h header
	if err != nil || json.Unmarshal(line, &h) != nil || h.Kind == "" || h.Size < 0 {
		return Entry{}, errors.New("corrupt entry: unreadable header")
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return Entry{}, err
	}
	if len(body) != h.Size {
		return Entry{}, fmt.Errorf("corrupt entry: body of %d bytes, header says %d (truncated?)", len(body), h.Size)
	}
	if crc32.Checksum(body, castagnoli) != h.CRC {
		return Entry{}, errors.New("corrupt entry: checksum mismatch")
	}
	return Entry{ID: name, Kind: h.Kind, Delivery: h.Delivery, Received: h.Received, Body: body}, nil
}

func validName(name string) bool {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != 20 {
		return false
	}
	_, err := strconv.ParseUint(digits, 10, 64)
	return err == nil
}

// setAside moves file name to bad/ and drops it from the index, logging why.
func (s *Spool) setAside(name string, why error) {
	to := filepath.Join(s.dir, badDir, name)
	if _, err := os.Stat(to); err == nil {
		to += "." + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	err := os.Rename(filepath.Join(s.dir, name), to)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Error().Err(err).Str("file", name).Msg("spool: cannot set aside a bad entry")
	} else if err == nil {
		s.log.Warn().Str("file", name).Str("moved_to", to).Str("reason", why.Error()).Msg("spool: bad entry set aside")
	}
	s.forget(name)
}

// forget drops name from the index.
func (s *Spool) forget(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	size, ok := s.sizes[name]
	if !ok {
		return
	}
	delete(s.sizes, name)
	s.used -= size
	if i, found := slices.BinarySearch(s.names, name); found {
		if i == 0 {
			s.names = s.names[1:]
		} else {
			s.names = slices.Delete(s.names, i, i+1)
		}
	}
}
