-- Tenant phonebook: one row per contact, served to every phone of the
-- tenant in its vendor's remote phonebook format (/pb/{mac}.xml).  The
-- CLI checks text and number characters; the CHECKs are the last line.
CREATE TABLE contact (
  id         INTEGER PRIMARY KEY,
  tenant_id  INTEGER NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
  name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  office     TEXT NOT NULL CHECK (length(office) BETWEEN 1 AND 32),
  mobile     TEXT NOT NULL DEFAULT '' CHECK (length(mobile) <= 32),
  other      TEXT NOT NULL DEFAULT '' CHECK (length(other) <= 32),
  grp        TEXT NOT NULL DEFAULT '' CHECK (length(grp) <= 64),
  added      INTEGER NOT NULL,
  UNIQUE (tenant_id, name, office)
);
