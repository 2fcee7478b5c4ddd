-- 002_dba_views.sql: views for DBAs watching the status columns
-- (DESIGN.md §4 "DBA views"). Read-only; nothing in callpipe depends on
-- them.

-- Calls whose stage has not moved for 15 minutes: a working state that no
-- job is finishing, or a call that ended with its recording still pending.
-- A healthy system keeps this empty; the reconcile job (later) empties it.
CREATE OR REPLACE VIEW v_calls_stuck AS
SELECT c.call_sid, c.business_id, c.call_status, c.recording_status,
       c.transcript_status, c.summary_status, c.last_error, c.retry_count,
       c.created_at, c.ended_at, c.updated_at,
       TIMESTAMPDIFF(SECOND, c.updated_at, UTC_TIMESTAMP(3)) AS idle_seconds
FROM call_log c
WHERE c.updated_at < UTC_TIMESTAMP(3) - INTERVAL 15 MINUTE
  AND (c.recording_status = 'recording'
       OR c.transcript_status = 'processing'
       OR c.summary_status = 'processing'
       OR (c.recording_status = 'pending' AND c.ended_at IS NOT NULL)
       OR (c.recording_status = 'completed' AND c.transcript_status = 'pending')
       OR (c.transcript_status = 'completed' AND c.summary_status = 'pending'));

-- Calls per day (UTC) and how each stage ended.
CREATE OR REPLACE VIEW v_calls_daily AS
SELECT DATE(created_at) AS day,
       COUNT(*) AS calls,
       SUM(recording_status = 'completed')  AS recording_completed,
       SUM(recording_status = 'failed')     AS recording_failed,
       SUM(transcript_status = 'completed') AS transcript_completed,
       SUM(transcript_status = 'failed')    AS transcript_failed,
       SUM(summary_status = 'completed')    AS summary_completed,
       SUM(summary_status = 'failed')       AS summary_failed
FROM call_log
GROUP BY DATE(created_at);

-- Queue depth and the oldest runnable job per kind.
CREATE OR REPLACE VIEW v_queue_depth AS
SELECT kind,
       SUM(state = 'queued')  AS queued,
       SUM(state = 'running') AS running,
       SUM(state = 'dead')    AS dead,
       MIN(CASE WHEN state = 'queued' THEN run_after END) AS oldest_queued_run_after,
       TIMESTAMPDIFF(SECOND, MIN(CASE WHEN state = 'queued' THEN run_after END),
                     UTC_TIMESTAMP(3)) AS oldest_queued_age_seconds
FROM jobs
GROUP BY kind;
