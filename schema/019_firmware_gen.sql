-- A rendered config names the firmware image its template's firmware.<model>
-- setting picks (/fw/<sha256>/<file>): adding or removing an image changes
-- what configs say, so it bumps config_gen like every other config input.
CREATE TRIGGER cg_firmware_i AFTER INSERT ON firmware BEGIN UPDATE config_gen SET gen = gen + 1; END;
CREATE TRIGGER cg_firmware_d AFTER DELETE ON firmware BEGIN UPDATE config_gen SET gen = gen + 1; END;
