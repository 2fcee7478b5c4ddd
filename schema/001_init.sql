-- 001_init.sql: callpipe's tables (DESIGN.md §4). InnoDB, utf8mb4.
-- Applied once by `callpipectl migrate`, which records it in
-- schema_migrations. All times are UTC (callpipe sets time_zone '+00:00').

CREATE TABLE businesses (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  name        VARCHAR(255) NOT NULL,
  created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- E.164 number -> business. Inbound calls are matched by To, outbound by From.
CREATE TABLE business_numbers (
  number       VARCHAR(32) CHARACTER SET ascii NOT NULL,
  business_id  BIGINT UNSIGNED NOT NULL,
  created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (number),
  KEY ix_business_numbers_business (business_id),
  CONSTRAINT fk_business_numbers_business FOREIGN KEY (business_id)
    REFERENCES businesses (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Bearer tokens of the browser UI. Only the SHA-256 (hex) of a token is kept.
CREATE TABLE api_tokens (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  business_id   BIGINT UNSIGNED NOT NULL,
  name          VARCHAR(255) NOT NULL,
  token_sha256  CHAR(64) CHARACTER SET ascii NOT NULL,
  created_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_used_at  DATETIME(3) NULL,
  revoked_at    DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY ux_api_tokens_sha256 (token_sha256),
  KEY ix_api_tokens_business (business_id),
  CONSTRAINT fk_api_tokens_business FOREIGN KEY (business_id)
    REFERENCES businesses (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per call. Column names follow the earlier system's call_log so
-- DBAs' queries keep working; callpipe adds ended_at, stream_ended_at,
-- recording_started_at, recording_stored_at, recording_bytes,
-- transcript_segments and extraction_confidence.
--
-- Status moves (enforced by the WHERE clauses of calls.c, never backwards):
--   recording_status : pending -> recording -> completed | failed
--   transcript_status: pending -> processing -> completed | failed
--   summary_status   : pending -> processing -> completed | failed
CREATE TABLE call_log (
  id                     BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  call_sid               CHAR(34) CHARACTER SET ascii NOT NULL,
  business_id            BIGINT UNSIGNED NULL,
  direction              VARCHAR(16) CHARACTER SET ascii NULL,
  from_number            VARCHAR(64) NULL,
  to_number              VARCHAR(64) NULL,
  call_status            VARCHAR(16) CHARACTER SET ascii NULL,
  call_duration          INT UNSIGNED NULL COMMENT 'seconds',
  recording_sid          CHAR(34) CHARACTER SET ascii NULL,
  recording_url          VARCHAR(512) NULL,
  recording_duration     INT UNSIGNED NULL COMMENT 'seconds',
  recording_channels     TINYINT UNSIGNED NULL,
  recording_status       ENUM('pending','recording','completed','failed') NOT NULL DEFAULT 'pending',
  transcription          MEDIUMTEXT NULL COMMENT 'JSON: each channel raw STT text',
  final_transcript       MEDIUMTEXT NULL COMMENT 'Caller:/Agent: lines merged by time',
  extracted_service      VARCHAR(128) NULL,
  extracted_city         VARCHAR(128) NULL,
  summary                TEXT NULL,
  transcript_status      ENUM('pending','processing','completed','failed') NOT NULL DEFAULT 'pending',
  summary_status         ENUM('pending','processing','completed','failed') NOT NULL DEFAULT 'pending',
  last_error             VARCHAR(500) NULL,
  retry_count            INT UNSIGNED NOT NULL DEFAULT 0,
  created_at             DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at             DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  ended_at               DATETIME(3) NULL,
  stream_ended_at        DATETIME(3) NULL,
  recording_started_at   DATETIME(3) NULL,
  recording_stored_at    DATETIME(3) NULL,
  recording_bytes        BIGINT UNSIGNED NULL,
  transcript_segments    JSON NULL,
  extraction_confidence  DECIMAL(4,3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY ux_call_log_call_sid (call_sid),
  KEY ix_call_log_business_created (business_id, created_at),
  KEY ix_call_log_recording_sid (recording_sid),
  CONSTRAINT fk_call_log_business FOREIGN KEY (business_id)
    REFERENCES businesses (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The queue (DESIGN.md §5). Workers claim with
--   SELECT id FROM jobs WHERE state='queued' AND run_after <= NOW(3)
--   ORDER BY run_after, id LIMIT n FOR UPDATE SKIP LOCKED
-- which ix_jobs_claim serves in index order (no filesort).
CREATE TABLE jobs (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  kind          VARCHAR(32) CHARACTER SET ascii NOT NULL,
  call_sid      CHAR(34) CHARACTER SET ascii NULL,
  dedupe_key    VARCHAR(191) CHARACTER SET ascii NOT NULL,
  state         ENUM('queued','running','done','dead') NOT NULL DEFAULT 'queued',
  attempts      INT UNSIGNED NOT NULL DEFAULT 0,
  max_attempts  INT UNSIGNED NOT NULL,
  run_after     DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  locked_by     VARCHAR(128) NULL,
  locked_until  DATETIME(3) NULL,
  last_error    VARCHAR(500) NULL,
  created_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY ux_jobs_dedupe_key (dedupe_key),
  KEY ix_jobs_claim (state, run_after, id),
  KEY ix_jobs_lease (state, locked_until),
  KEY ix_jobs_call_sid (call_sid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
