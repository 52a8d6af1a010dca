-- 009: what the registrar said, not only its code.  reason is the status
-- line's reason phrase ("Forbidden Wrong Password", "Domain Not Served");
-- reason_detail is the Reason header (RFC 3326: 'SIP;cause=403;text="..."')
-- or Kamailio/OpenSIPS's P-Registrar-Error header, as received.  Probe
-- traffic of `sipprov diagnose` is kept apart as source 'probe' (never
-- matched to a device, never an account's last code).
ALTER TABLE registration ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE registration ADD COLUMN reason_detail TEXT NOT NULL DEFAULT '';
