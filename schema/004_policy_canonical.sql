-- 004: tenant policy in canonical form (server/core/policy.c writes it so
-- from now on).  Older versions stored the lists as typed, so a row may say
-- 'digest, token' or '10.0.0.0/8, 127.0.0.0/8,'.  What SQL does here:
--  * device_auth and allow_cidrs: whitespace removed (no item of either list
--    can contain any), empty items dropped (',,' and leading or trailing
--    commas); a list that would become empty is left as it was, so an
--    allowlist that refused everything does not turn into "any source";
--  * device_auth: when every item is one of none, digest, mtls, token, it is
--    rewritten in the canonical order none,digest,mtls,token without
--    duplicates;
--  * username_pattern, auth_username_pattern: surrounding whitespace trimmed.
-- What SQL cannot do (masking host bits such as 10.1.2.3/8 -> 10.0.0.0/8,
-- IPv6 compression, ::ffff:-mapped networks written as IPv4, duplicate
-- CIDRs, a missing /32 or /128): the runtime parser reads those legacy forms
-- with the same meaning, and the next 'tenant set' stores them canonical.
UPDATE tenant SET
  device_auth = replace(replace(replace(replace(device_auth, ' ', ''), char(9), ''), char(10), ''), char(13), ''),
  allow_cidrs = CASE
    WHEN trim(replace(replace(replace(replace(allow_cidrs, ' ', ''), char(9), ''), char(10), ''), char(13), ''), ',') = ''
    THEN allow_cidrs
    ELSE replace(replace(replace(replace(allow_cidrs, ' ', ''), char(9), ''), char(10), ''), char(13), '')
  END,
  username_pattern = trim(username_pattern, ' ' || char(9) || char(10) || char(13)),
  auth_username_pattern = trim(auth_username_pattern, ' ' || char(9) || char(10) || char(13));

-- Empty items: ',,' halves on each pass; five passes collapse 32 commas.
-- A list of nothing but commas is left alone (see above).
UPDATE tenant SET
  device_auth = CASE WHEN trim(device_auth, ',') = '' THEN device_auth ELSE
    trim(replace(replace(replace(replace(replace(device_auth, ',,', ','), ',,', ','), ',,', ','),
                 ',,', ','), ',,', ','), ',') END,
  allow_cidrs = CASE WHEN trim(allow_cidrs, ',') = '' THEN allow_cidrs ELSE
    trim(replace(replace(replace(replace(replace(allow_cidrs, ',,', ','), ',,', ','), ',,', ','),
                 ',,', ','), ',,', ','), ',') END;

-- device_auth in canonical order when every item is known.  Doubling the
-- commas (',,a,,b,,') lets each ',mode,' be removed without overlapping its
-- neighbour; nothing but commas left means every item was known.
UPDATE tenant SET device_auth = trim(
    CASE WHEN instr(',' || lower(device_auth) || ',', ',none,') THEN ',none' ELSE '' END ||
    CASE WHEN instr(',' || lower(device_auth) || ',', ',digest,') THEN ',digest' ELSE '' END ||
    CASE WHEN instr(',' || lower(device_auth) || ',', ',mtls,') THEN ',mtls' ELSE '' END ||
    CASE WHEN instr(',' || lower(device_auth) || ',', ',token,') THEN ',token' ELSE '' END, ',')
WHERE device_auth <> '' AND replace(
    replace(replace(replace(replace(',' || replace(lower(device_auth), ',', ',,') || ',',
      ',none,', ''), ',digest,', ''), ',mtls,', ''), ',token,', ''), ',', '') = '';
