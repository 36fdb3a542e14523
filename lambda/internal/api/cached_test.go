package api

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
)

func TestCachedFormRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)
	id := document.NewID()
	cases := map[string]document.Document{
		"ready": {ID: id, Name: "a.pdf", ContentType: "application/pdf", Size: 42, Metadata: map[string]string{"k": "v"},
			State: document.StateReady, ETag: `"abc"`, ObjectKey: "documents/" + id, CreatedAt: at, UpdatedAt: at.Add(time.Second)},
		"multipart pending": {ID: id, Name: "big.bin", ContentType: "application/octet-stream", Size: 1 << 40,
			Metadata: map[string]string{}, State: document.StatePending, ObjectKey: "documents/" + id, UploadID: "up-1", CreatedAt: at, UpdatedAt: at},
		"newlines and separators in text": {ID: id, Name: "line\nbreak\r\u2028<&>.txt", ContentType: "text/plain",
			Metadata: map[string]string{"note\n": "a\nb", "": ""}, State: document.StateReady, ObjectKey: "k\n", CreatedAt: at, UpdatedAt: at},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			value, body, err := encodeCached(d)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(view(d))
			if string(body) != string(want) {
				t.Errorf("body = %s, want the GET answer %s", body, want)
			}
			got, ok := decodeCached(value, d.ID)
			if !ok {
				t.Fatalf("decodeCached(%q) refused its own encoding", value)
			}
			if diff := cmp.Diff(d, got); diff != "" {
				t.Errorf("decoded document (-want +got):\n%s", diff)
			}
			if _, ok := decodeCached(value, document.NewID()); ok {
				t.Error("a value was accepted for another id")
			}
		})
	}
}

// FuzzDecodeCached feeds arbitrary cache values: a value is either refused or gives a body that is one
// JSON document for the requested id, never a panic or a wrong document.
func FuzzDecodeCached(f *testing.F) {
	id := "3f1c2a4e-0000-4000-8000-000000000000"
	d := document.Document{ID: id, Name: "a.pdf", ContentType: "application/pdf", Metadata: map[string]string{"k": "v"}, State: document.StateReady}
	value, _, err := encodeCached(d)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(value, id)
	f.Add([]byte(`{"id":"`+id+`"}`+"\n{}"), id)
	f.Add([]byte(`{"id":"`+id+`"`+"\n"), id)
	f.Fuzz(func(t *testing.T, value []byte, id string) {
		body, _, ok := splitCached(value, id)
		d, decoded := decodeCached(value, id)
		if !ok {
			if decoded {
				t.Fatalf("decodeCached accepted %q, which splitCached refused", value)
			}
			return
		}
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.ID != id {
			t.Fatalf("body %q accepted for id %q: decodes to id %q, %v", body, id, v.ID, err)
		}
		if decoded && d.ID != id {
			t.Fatalf("decoded document %q for id %q", d.ID, id)
		}
	})
}

// FuzzCachedRoundTrip encodes documents with arbitrary text: the cached form always splits at the
// right place and decodes to the same document.
func FuzzCachedRoundTrip(f *testing.F) {
	f.Add("a.pdf", "application/pdf", "team", "docs", `"etag"`, "documents/x", "")
	f.Add("new\nline", "text/plain", "k\n", "\n", "", "\n", "upload\n")
	f.Fuzz(func(t *testing.T, name, contentType, key, val, etag, objectKey, uploadID string) {
		for _, s := range []string{name, contentType, key, val, etag, objectKey, uploadID} {
			if !utf8.ValidString(s) {
				return // encoding/json replaces invalid UTF-8; the store never holds it
			}
		}
		at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
		d := document.Document{ID: document.NewID(), Name: name, ContentType: contentType, Metadata: map[string]string{key: val},
			State: document.StateReady, ETag: etag, ObjectKey: objectKey, UploadID: uploadID, CreatedAt: at, UpdatedAt: at}
		value, _, err := encodeCached(d)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeCached(value, d.ID)
		if !ok {
			t.Fatalf("own encoding refused: %q", value)
		}
		if diff := cmp.Diff(d, got); diff != "" {
			t.Errorf("decoded document (-want +got):\n%s", diff)
		}
	})
}
