-- 005_retention_coverage.sql: what issue 7 adds to call_log and jobs.
-- Columns are added with ALGORITHM=INSTANT and indexes with
-- ALGORITHM=INPLACE, LOCK=NONE, so the table stays readable and writable
-- while this runs on a large call_log (MariaDB "InnoDB Online DDL
-- Operations with the INSTANT Alter Algorithm" / "... INPLACE ...").

ALTER TABLE call_log
  ADD COLUMN recording_start_offset_ms INT NULL
    COMMENT 'mode rest: the 201 of the REST start minus the TwiML answer, ms'
    AFTER recording_started_at,
  ADD COLUMN recording_coverage DECIMAL(6,3) NULL
    COMMENT 'seconds of stored audio / CallDuration'
    AFTER recording_bytes,
  ADD COLUMN recording_coverage_low TINYINT(1) NULL
    COMMENT '1: the gap is more than max(1 s, (1 - recording.min_coverage) x CallDuration)'
    AFTER recording_coverage,
  ADD COLUMN recording_deleted_at DATETIME(3) NULL
    COMMENT 'the retention purge deleted the recording at Twilio'
    AFTER recording_coverage_low,
  ADD COLUMN transcript_purged_at DATETIME(3) NULL
    COMMENT 'the retention purge cleared the transcripts and the summary'
    AFTER transcript_language,
  ADD COLUMN legacy_upgraded_at DATETIME(3) NULL
    COMMENT 'the row came from the earlier system (callpipectl upgrade-legacy)',
  ALGORITHM=INSTANT;

-- The DBAs' newest-calls query (README "DBA queries"). Their failed
-- transcripts or summaries query is an index merge of 006's sweep indexes,
-- which lead with those status columns.
ALTER TABLE call_log
  ADD INDEX ix_call_log_created (created_at),
  ALGORITHM=INPLACE, LOCK=NONE;

-- The sweep deletes finished jobs by age.
ALTER TABLE jobs
  ADD INDEX ix_jobs_finished (state, updated_at),
  ALGORITHM=INPLACE, LOCK=NONE;

-- Calls whose stored recording covers less of the call than
-- recording.min_coverage allows (the worker decides with the config's
-- value when it stores the file): "the start of the call is missing".
CREATE OR REPLACE VIEW v_calls_low_coverage AS
SELECT c.call_sid, c.business_id, c.created_at, c.call_duration,
       c.recording_duration, c.recording_coverage,
       ROUND(c.call_duration * (1 - c.recording_coverage), 1) AS gap_seconds,
       c.recording_sid, c.recording_start_offset_ms
FROM call_log c
WHERE c.recording_coverage_low = 1;
