-- Idempotent retries on the admin API (Idempotency-Key on POST
-- /api/v1/import): the first answer to (token, key) is kept, sealed with
-- the key file (it may hold generated passwords), with the sha256 of the
-- request body so a retry with another body is told apart (409).
CREATE TABLE api_idempotency (
  token_name  TEXT NOT NULL,
  idem_key    TEXT NOT NULL CHECK (length(idem_key) BETWEEN 1 AND 255),
  body_sha256 TEXT NOT NULL CHECK (length(body_sha256) = 64),
  status      INTEGER NOT NULL,
  answer_enc  TEXT NOT NULL,
  created     INTEGER NOT NULL,
  PRIMARY KEY (token_name, idem_key)
);
