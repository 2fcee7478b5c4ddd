-- 003_call_log_widths.sql: room for every Direction Twilio sends
-- ("trunking-originating" is 20 characters) and for CallStatus values.
ALTER TABLE call_log
  MODIFY direction   VARCHAR(32) CHARACTER SET ascii NULL,
  MODIFY call_status VARCHAR(32) CHARACTER SET ascii NULL;
