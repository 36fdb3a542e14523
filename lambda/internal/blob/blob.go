// Package blob keeps document contents in S3. Uploads and downloads go straight between the client and S3
// through presigned URLs made by the SDK's presign client; the function itself only reads small objects
// (inline content) and checks uploads with HeadObject. Every upload carries the SSE-KMS headers the bucket
// policy requires when a KMS key is configured.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"gitlab.com/gitops-agent/gitops-agent/lambda/internal/document"
)

// Config names the bucket and how uploads are encrypted.
type Config struct {
	Bucket string
	// KMSKeyID, when set, makes every upload aws:kms-encrypted with this key (SSE-KMS).
	KMSKeyID string
	// PresignTTL is how long presigned URLs stay valid; 0 means 15 minutes.
	PresignTTL time.Duration
	// DownloadTTL is how long presigned GET URLs stay valid; 0 means 5 minutes.
	DownloadTTL time.Duration
}

// Store is one bucket. It is safe for concurrent use.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	cfg     Config
}

// New wraps an S3 client built once at init.
func New(client *s3.Client, cfg Config) *Store {
	if cfg.PresignTTL <= 0 {
		cfg.PresignTTL = 15 * time.Minute
	}
	if cfg.DownloadTTL <= 0 {
		cfg.DownloadTTL = 5 * time.Minute
	}
	return &Store{client: client, presign: s3.NewPresignClient(client), cfg: cfg}
}

func toRequest(method, u string, signed http.Header, expires time.Time) document.PresignedRequest {
	h := make(map[string]string, len(signed))
	for k, v := range signed {
		if strings.EqualFold(k, "host") || len(v) == 0 {
			continue
		}
		h[http.CanonicalHeaderKey(k)] = strings.Join(v, ",")
	}
	return document.PresignedRequest{Method: method, URL: u, Headers: h, ExpiresAt: expires}
}

func (s *Store) sse() (types.ServerSideEncryption, *string) {
	if s.cfg.KMSKeyID == "" {
		return "", nil
	}
	return types.ServerSideEncryptionAwsKms, aws.String(s.cfg.KMSKeyID)
}

// PresignPut returns a single PUT of exactly size bytes with the given content type.
func (s *Store) PresignPut(ctx context.Context, key, contentType string, size int64) (document.PresignedRequest, error) {
	alg, kms := s.sse()
	expires := time.Now().Add(s.cfg.PresignTTL)
	p, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.cfg.Bucket, Key: &key, ContentType: &contentType, ContentLength: &size,
		ServerSideEncryption: alg, SSEKMSKeyId: kms,
	}, s3.WithPresignExpires(s.cfg.PresignTTL))
	if err != nil {
		return document.PresignedRequest{}, fmt.Errorf("presign put: %w", err)
	}
	return toRequest(p.Method, p.URL, p.SignedHeader, expires), nil
}

// CreateMultipart opens a multipart upload (encrypted per the config) and returns its id.
func (s *Store) CreateMultipart(ctx context.Context, key, contentType string) (string, error) {
	alg, kms := s.sse()
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.cfg.Bucket, Key: &key, ContentType: &contentType,
		ServerSideEncryption: alg, SSEKMSKeyId: kms,
	})
	if err != nil {
		return "", fmt.Errorf("create multipart upload: %w", err)
	}
	return aws.ToString(out.UploadId), nil
}

// PresignPart returns the PUT for part number n (1-based) of an open multipart upload.
func (s *Store) PresignPart(ctx context.Context, key, uploadID string, n int32) (document.PresignedRequest, error) {
	expires := time.Now().Add(s.cfg.PresignTTL)
	p, err := s.presign.PresignUploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.cfg.Bucket, Key: &key, UploadId: &uploadID, PartNumber: &n,
	}, s3.WithPresignExpires(s.cfg.PresignTTL))
	if err != nil {
		return document.PresignedRequest{}, fmt.Errorf("presign part %d: %w", n, err)
	}
	return toRequest(p.Method, p.URL, p.SignedHeader, expires), nil
}

// CompleteMultipart assembles the parts. It returns document.ErrObjectNotFound when the upload is unknown (already
// completed or aborted) and document.ErrInvalidParts when S3 rejects the list.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []document.Part) error {
	cp := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cp[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: aws.String(p.ETag)}
	}
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.cfg.Bucket, Key: &key, UploadId: &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cp},
	})
	switch code := errorCode(err); {
	case err == nil:
		return nil
	case code == "NoSuchUpload":
		return document.ErrObjectNotFound
	case code == "InvalidPart" || code == "InvalidPartOrder" || code == "EntityTooSmall" || code == "MalformedXML":
		return document.ErrInvalidParts
	default:
		return fmt.Errorf("complete multipart upload: %w", err)
	}
}

// AbortMultipart discards an open multipart upload and its parts; an unknown upload is not an error.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &key, UploadId: &uploadID})
	if err != nil && errorCode(err) != "NoSuchUpload" && statusCode(err) != http.StatusNotFound {
		return fmt.Errorf("abort multipart upload: %w", err)
	}
	return nil
}

// Head returns the object's size and ETag, or document.ErrObjectNotFound.
func (s *Store) Head(ctx context.Context, key string) (document.Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return document.Object{}, document.ErrObjectNotFound
		}
		return document.Object{}, fmt.Errorf("head object: %w", err)
	}
	return document.Object{Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), ContentType: aws.ToString(out.ContentType)}, nil
}

// PresignGet returns a short-lived GET that downloads the object under filename.
func (s *Store) PresignGet(ctx context.Context, key, filename, contentType string) (string, error) {
	disp := mimeAttachment(filename)
	p, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: &s.cfg.Bucket, Key: &key,
		ResponseContentDisposition: &disp, ResponseContentType: &contentType,
	}, s3.WithPresignExpires(s.cfg.DownloadTTL))
	if err != nil {
		return "", fmt.Errorf("presign get: %w", err)
	}
	return p.URL, nil
}

// Open reads bytes [start, end] (inclusive) of the object, or all of it when end < 0. The caller closes
// the body. It returns document.ErrObjectNotFound or document.ErrInvalidRange.
func (s *Store) Open(ctx context.Context, key string, start, end int64) (io.ReadCloser, document.Object, error) {
	in := &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &key}
	if end >= 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", start, end))
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		switch {
		case isNotFound(err):
			return nil, document.Object{}, document.ErrObjectNotFound
		case errorCode(err) == "InvalidRange" || statusCode(err) == http.StatusRequestedRangeNotSatisfiable:
			return nil, document.Object{}, document.ErrInvalidRange
		}
		return nil, document.Object{}, fmt.Errorf("get object: %w", err)
	}
	return out.Body, document.Object{Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), ContentType: aws.ToString(out.ContentType)}, nil
}

// Delete removes the object; a missing object is not an error (S3 deletes are idempotent).
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &key}); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete object: %w", err)
	}
	return nil
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func statusCode(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func isNotFound(err error) bool {
	var nf *types.NotFound
	var nk *types.NoSuchKey
	return errors.As(err, &nf) || errors.As(err, &nk) || statusCode(err) == http.StatusNotFound
}

// mimeAttachment builds a Content-Disposition that survives any file name: an ASCII fallback and the
// RFC 5987 UTF-8 form.
func mimeAttachment(name string) string {
	var ascii strings.Builder
	for _, r := range name {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			ascii.WriteByte('_')
			continue
		}
		ascii.WriteRune(r)
	}
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii.String(), url.PathEscape(name))
}
