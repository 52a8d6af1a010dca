-- 014 (PostgreSQL dialect of schema/014_registration_dst.sql): where the
-- phone's REGISTER went, and registrations by domain.
ALTER TABLE registration ADD COLUMN dst_ip TEXT NOT NULL DEFAULT '';
CREATE INDEX registration_domain ON registration(registrar, at);
