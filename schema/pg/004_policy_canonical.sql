-- 004 (PostgreSQL dialect of schema/004_policy_canonical.sql): tenant
-- policy lists in canonical form.  A PostgreSQL database is always built
-- from 001 on, so these rows are only ever written by the current code;
-- the statements are kept, translated (btrim, chr, strpos), so the same
-- number means the same change on both backends.
UPDATE tenant SET
  device_auth = replace(replace(replace(replace(device_auth, ' ', ''), chr(9), ''), chr(10), ''), chr(13), ''),
  allow_cidrs = CASE
    WHEN btrim(replace(replace(replace(replace(allow_cidrs, ' ', ''), chr(9), ''), chr(10), ''), chr(13), ''), ',') = ''
    THEN allow_cidrs
    ELSE replace(replace(replace(replace(allow_cidrs, ' ', ''), chr(9), ''), chr(10), ''), chr(13), '')
  END,
  username_pattern = btrim(username_pattern, ' ' || chr(9) || chr(10) || chr(13)),
  auth_username_pattern = btrim(auth_username_pattern, ' ' || chr(9) || chr(10) || chr(13));

UPDATE tenant SET
  device_auth = CASE WHEN btrim(device_auth, ',') = '' THEN device_auth ELSE
    btrim(replace(replace(replace(replace(replace(device_auth, ',,', ','), ',,', ','), ',,', ','),
                  ',,', ','), ',,', ','), ',') END,
  allow_cidrs = CASE WHEN btrim(allow_cidrs, ',') = '' THEN allow_cidrs ELSE
    btrim(replace(replace(replace(replace(replace(allow_cidrs, ',,', ','), ',,', ','), ',,', ','),
                  ',,', ','), ',,', ','), ',') END;

UPDATE tenant SET device_auth = btrim(
    CASE WHEN strpos(',' || lower(device_auth) || ',', ',none,') > 0 THEN ',none' ELSE '' END ||
    CASE WHEN strpos(',' || lower(device_auth) || ',', ',digest,') > 0 THEN ',digest' ELSE '' END ||
    CASE WHEN strpos(',' || lower(device_auth) || ',', ',mtls,') > 0 THEN ',mtls' ELSE '' END ||
    CASE WHEN strpos(',' || lower(device_auth) || ',', ',token,') > 0 THEN ',token' ELSE '' END, ',')
WHERE device_auth <> '' AND replace(
    replace(replace(replace(replace(',' || replace(lower(device_auth), ',', ',,') || ',',
      ',none,', ''), ',digest,', ''), ',mtls,', ''), ',token,', ''), ',', '') = '';
