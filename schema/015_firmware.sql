-- Firmware images: one row per vendor/model/version, the file kept once
-- under the data folder by its SHA-256 (two rows may share a file).
CREATE TABLE firmware (
  id        INTEGER PRIMARY KEY,
  vendor    TEXT NOT NULL,
  model     TEXT NOT NULL,
  version   TEXT NOT NULL,
  sha256    TEXT NOT NULL CHECK (length(sha256) = 64),
  size      INTEGER NOT NULL CHECK (size >= 0),
  filename  TEXT NOT NULL,          -- the name it was added under: phones may want it
  added     INTEGER NOT NULL,
  UNIQUE (vendor, model, version)
);
CREATE INDEX firmware_sha256 ON firmware (sha256);
