-- The knowledge base: every file of a knowledge folder as it is (the source of truth, so an
-- export equals what was imported), the reports, passages and facts parsed from them (for
-- queries), and every change with the bytes it replaced (history, audit, undo).

CREATE TABLE kb_files (
    rel     text PRIMARY KEY,            -- reports/<id>.yaml, facts.yaml, sources/<name>
    data    bytea NOT NULL,
    sha256  text NOT NULL
);

CREATE TABLE kb_reports (
    report_id    text PRIMARY KEY,
    rel          text NOT NULL UNIQUE REFERENCES kb_files (rel) ON DELETE CASCADE,
    title        text NOT NULL,
    agency       text NOT NULL,
    year         integer,
    doc_type     text NOT NULL,
    source_file  text NOT NULL
);

CREATE TABLE kb_passages (
    id         text PRIMARY KEY,
    report_id  text NOT NULL REFERENCES kb_reports (report_id) ON DELETE CASCADE,
    ord        integer NOT NULL,
    section    text[] NOT NULL,
    text       text NOT NULL,
    UNIQUE (report_id, ord)
);

CREATE TABLE kb_facts (
    id            text PRIMARY KEY,
    report_id     text NOT NULL REFERENCES kb_reports (report_id) ON DELETE CASCADE,
    question      text NOT NULL,
    answer        text NOT NULL,
    alternatives  text[] NOT NULL,
    section       text NOT NULL
);

CREATE TABLE kb_changes (
    seq     bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    action  text NOT NULL,
    target  text NOT NULL,
    status  text NOT NULL DEFAULT 'done', -- done | undone
    undoes  bigint REFERENCES kb_changes (seq),
    files   jsonb NOT NULL                -- rel -> {"before": sha | null, "after": sha | null}
);

CREATE TABLE kb_file_versions (         -- the bytes a change replaced or removed (for undo)
    seq   bigint NOT NULL REFERENCES kb_changes (seq) ON DELETE CASCADE,
    rel   text NOT NULL,
    data  bytea NOT NULL,
    PRIMARY KEY (seq, rel)
);
