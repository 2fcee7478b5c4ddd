-- 007_purge_coverage.sql: what the retention purge and the coverage check
-- (issue 7 items 3 and 4, fcgi-app/lib/purge.c, coverage.c) need beyond 005.
-- INSTANT column, INPLACE indexes with LOCK=NONE: the table stays readable
-- and writable while this runs (MariaDB "InnoDB Online DDL Operations").

-- The seconds of audio in the stored WAV (libsndfile frames / rate), kept
-- so the coverage can be computed whichever comes last: the stored file or
-- the status callback's CallDuration.
ALTER TABLE call_log
  ADD COLUMN recording_audio_ms INT UNSIGNED NULL
    COMMENT 'ms of audio in the stored WAV (coverage = this / CallDuration)'
    AFTER recording_bytes,
  ALGORITHM=INSTANT;

-- The daily purge walks old calls not purged yet in (created_at, id)
-- order from a keyset cursor (purge.c): a range on (NULL, created_at <
-- cutoff) of these, read in index order (InnoDB appends id) from where
-- the last batch stopped, so a day's run reads the calls that aged out
-- since the last one plus those it cannot mark (no recording, a failed
-- delete at Twilio), once each.
ALTER TABLE call_log
  ADD INDEX ix_call_log_rec_deleted_created (recording_deleted_at, created_at),
  ADD INDEX ix_call_log_tr_purged_created (transcript_purged_at, created_at),
  ALGORITHM=INPLACE, LOCK=NONE;
