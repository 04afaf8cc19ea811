-- Brand-guideline copilot (SQLite dialect). Keep in step with ../postgres/0005_guidelines.sql.

-- One row per guideline document of a brand; a new version replaces its chunks.
CREATE TABLE guideline_documents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    brand_id    INTEGER NOT NULL REFERENCES brands(id),
    -- The file name, e.g. "aurora-toys.pdf"; unique per brand.
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    pages       INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (brand_id, name)
);

-- Chunks keep their page and heading; the embedding (JSON array of f32, unit length) is
-- present when an embedding endpoint was configured at ingestion.
CREATE TABLE guideline_chunks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id     INTEGER NOT NULL REFERENCES guideline_documents(id),
    ordinal         INTEGER NOT NULL,
    page            INTEGER NOT NULL,
    heading         TEXT,
    text            TEXT NOT NULL,
    embedding       TEXT,
    embedding_model TEXT
);
CREATE INDEX guideline_chunks_document ON guideline_chunks(document_id, ordinal);

-- Page text, for the omnitraffick://guidelines/{doc} resource.
CREATE TABLE guideline_pages (
    document_id INTEGER NOT NULL REFERENCES guideline_documents(id),
    page        INTEGER NOT NULL,
    text        TEXT NOT NULL,
    PRIMARY KEY (document_id, page)
);
