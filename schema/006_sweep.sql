-- 006_sweep.sql: the periodic sweep's indexes (DESIGN.md §5 stage 4,
-- jobs.c "sweep") and a settable age threshold for v_calls_stuck.
-- Indexes are built with ALGORITHM=INPLACE, LOCK=NONE and the table is
-- created and filled at once, so call_log stays readable and writable
-- while this runs (MariaDB "InnoDB Online DDL Operations with the INPLACE
-- Alter Algorithm").

-- One per stage status: the sweep asks for rows in one status that are
-- not from the legacy upgrade (legacy_upgraded_at IS NULL, an equality)
-- and have had no event since a time (a range on updated_at), so neither
-- the upgraded rows nor the healthy ones are read, however many there are.
-- The "never queued" rules ask for a stage pending after the one before it
-- completed: the stage before is the second column, an equality too, so
-- the calls whose earlier stage failed (their later stages stay pending
-- for ever) are never read. The DBAs' failed-stage query merges the
-- transcript and summary indexes by their first column.
ALTER TABLE call_log
  ADD INDEX ix_call_log_sweep_recording (recording_status, legacy_upgraded_at, updated_at),
  ADD INDEX ix_call_log_sweep_transcript (transcript_status, recording_status, legacy_upgraded_at, updated_at),
  ADD INDEX ix_call_log_sweep_summary (summary_status, transcript_status, legacy_upgraded_at, updated_at),
  ALGORITHM=INPLACE, LOCK=NONE;

-- Settings of the DBA views, one row (id = 1). stuck_after_s: how long
-- (seconds) a stage must have been idle before v_calls_stuck lists its
-- call; 900 (15 minutes) by default. A test sets it to 0, so any call
-- left in a working state shows at once:
--   UPDATE dba_settings SET stuck_after_s = 0 WHERE id = 1;
CREATE TABLE IF NOT EXISTS dba_settings (
  id            TINYINT UNSIGNED NOT NULL,
  stuck_after_s INT UNSIGNED NOT NULL DEFAULT 900
    COMMENT 'v_calls_stuck lists stages idle at least this long (seconds)',
  PRIMARY KEY (id),
  CONSTRAINT ck_dba_settings_one_row CHECK (id = 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO dba_settings (id, stuck_after_s) VALUES (1, 900);

-- Calls whose stage has not moved for dba_settings.stuck_after_s seconds
-- (900 when the row is missing): a working state that no job is
-- finishing, a call that ended with its recording still pending, or a
-- stage whose job never came after the one before it completed. A
-- healthy system keeps this empty: the sweep gives such calls their job
-- again within worker.sweep_interval_s after worker.lease_seconds (or
-- worker.sweep_after_s for a call with no event). Rows brought in by
-- callpipectl upgrade-legacy (legacy_upgraded_at set) are left out, as
-- the sweep leaves them out: nothing will move them.
CREATE OR REPLACE VIEW v_calls_stuck AS
SELECT c.call_sid, c.business_id, c.call_status, c.recording_status,
       c.transcript_status, c.summary_status, c.last_error, c.retry_count,
       c.created_at, c.ended_at, c.updated_at,
       TIMESTAMPDIFF(SECOND, c.updated_at, UTC_TIMESTAMP(3)) AS idle_seconds
FROM call_log c
WHERE c.updated_at <= UTC_TIMESTAMP(3) - INTERVAL
        COALESCE((SELECT s.stuck_after_s FROM dba_settings s WHERE s.id = 1), 900) SECOND
  AND c.legacy_upgraded_at IS NULL
  AND (c.recording_status = 'recording'
       OR c.transcript_status = 'processing'
       OR c.summary_status = 'processing'
       OR (c.recording_status = 'pending' AND c.ended_at IS NOT NULL)
       OR (c.recording_status = 'completed' AND c.transcript_status = 'pending')
       OR (c.transcript_status = 'completed' AND c.summary_status = 'pending'));
