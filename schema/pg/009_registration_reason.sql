-- 009 (PostgreSQL dialect of schema/009_registration_reason.sql): what the
-- registrar said besides its code (reason phrase, Reason header).
ALTER TABLE registration ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE registration ADD COLUMN reason_detail TEXT NOT NULL DEFAULT '';
