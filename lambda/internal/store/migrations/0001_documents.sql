CREATE TABLE documents (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL,
    content_type text        NOT NULL,
    size         bigint      NOT NULL CHECK (size >= 0),
    metadata     jsonb       NOT NULL DEFAULT '{}',
    state        text        NOT NULL CHECK (state IN ('pending', 'ready')),
    object_key   text        NOT NULL,
    upload_id    text,
    etag         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The listing order: newest first, ties broken by id. Keyset pagination walks this index.
CREATE INDEX documents_listing ON documents (created_at DESC, id DESC);
