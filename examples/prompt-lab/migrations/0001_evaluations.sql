-- Migration: every scored prompt, for /api/evaluations/recent and later analysis.
CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY,
    prompt TEXT NOT NULL,
    score REAL NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX evaluations_created ON evaluations (created_at);
