-- 002: a generation counter bumped by every change that can alter what a
-- device is served.  sipprovd's render cache compares it per request (one
-- indexed read) instead of re-rendering; fetch bookkeeping (device.fetched_*)
-- deliberately does not bump it.
CREATE TABLE config_gen (id INTEGER PRIMARY KEY CHECK (id = 1), gen INTEGER NOT NULL);
INSERT INTO config_gen VALUES (1, 1);

CREATE TRIGGER cg_tenant_i AFTER INSERT ON tenant BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_tenant_u AFTER UPDATE ON tenant BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_tenant_d AFTER DELETE ON tenant BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_template_i AFTER INSERT ON template BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_template_u AFTER UPDATE ON template BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_template_d AFTER DELETE ON template BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_device_i AFTER INSERT ON device BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_device_d AFTER DELETE ON device BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_device_u AFTER UPDATE OF mac, tenant_id, layout, model, label, template, pinned_version,
  status, http_user, ha1_md5, ha1_sha256, overrides ON device BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_account_i AFTER INSERT ON account BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_account_d AFTER DELETE ON account BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_account_u AFTER UPDATE OF device_id, line, display_name, extension, username,
  auth_username, password_enc, token, token_revoked ON account BEGIN UPDATE config_gen SET gen = gen + 1; END;
