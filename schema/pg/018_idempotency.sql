-- 018 (PostgreSQL dialect of schema/018_idempotency.sql): the first answer
-- to (token, Idempotency-Key), sealed, with the request body's sha256.
CREATE TABLE api_idempotency (
  token_name  TEXT NOT NULL,
  idem_key    TEXT NOT NULL CHECK (length(idem_key) BETWEEN 1 AND 255),
  body_sha256 TEXT NOT NULL CHECK (length(body_sha256) = 64),
  status      BIGINT NOT NULL,
  answer_enc  TEXT NOT NULL,
  created     BIGINT NOT NULL,
  PRIMARY KEY (token_name, idem_key)
);
