-- 008_ctl_phone.sql: callpipectl calls list --phone (issue 8 item 5,
-- fcgi-app/lib/ctl_ops.c) finds a number's calls, as caller or as called,
-- newest first along these: a range on the number read in index order
-- (InnoDB appends id), stopping at the list's limit. Without them the
-- lookup walked every call of the table for a number with few calls.
-- INPLACE with LOCK=NONE: the table stays readable and writable while
-- this runs (MariaDB "InnoDB Online DDL Operations").
ALTER TABLE call_log
  ADD INDEX ix_call_log_from_created (from_number, created_at),
  ADD INDEX ix_call_log_to_created (to_number, created_at),
  ALGORITHM=INPLACE, LOCK=NONE;
