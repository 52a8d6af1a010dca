-- 019 (PostgreSQL dialect of schema/019_firmware_gen.sql): adding or
-- removing a firmware image changes configs, so it bumps config_gen (once
-- per transaction, like every other bump here: see 002).
CREATE CONSTRAINT TRIGGER cg_firmware_i AFTER INSERT ON firmware DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
CREATE CONSTRAINT TRIGGER cg_firmware_d AFTER DELETE ON firmware DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION sp_config_gen_bump();
