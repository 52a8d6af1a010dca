-- Phone web interface passwords (issue 16): per tenant (device_id 0) or
-- per device (tenant_id 0, overrides the tenant's), role admin or user,
-- AES-256-GCM under the key file like account.password_enc.  Rows go with
-- their tenant or device; every change bumps config_gen (configs carry them).
CREATE TABLE web_password (
  id           INTEGER PRIMARY KEY,
  tenant_id    INTEGER NOT NULL DEFAULT 0,
  device_id    INTEGER NOT NULL DEFAULT 0,
  role         TEXT NOT NULL CHECK (role IN ('admin', 'user')),
  password_enc TEXT NOT NULL CHECK (password_enc != ''),
  CHECK ((tenant_id = 0) != (device_id = 0)),
  UNIQUE (tenant_id, device_id, role)
);
CREATE TRIGGER web_password_tenant_d AFTER DELETE ON tenant BEGIN DELETE FROM web_password WHERE tenant_id = OLD.id; END;
CREATE TRIGGER web_password_device_d AFTER DELETE ON device BEGIN DELETE FROM web_password WHERE device_id = OLD.id; END;
CREATE TRIGGER cg_web_password_i AFTER INSERT ON web_password BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_web_password_u AFTER UPDATE ON web_password BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_web_password_d AFTER DELETE ON web_password BEGIN UPDATE config_gen SET gen = gen + 1; END;
