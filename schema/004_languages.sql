-- 004_languages.sql: the language of a business's calls and of each
-- transcript (issue 5). ISO-639-1 codes ("he", "en"), as OpenAI's
-- /audio/transcriptions takes them (OPENAI.md: "language must be a 2-letter
-- code"); VARCHAR(8) leaves room for a region ("pt-BR") some servers take.
-- businesses.language, when set, wins over stt.openai.language.
ALTER TABLE businesses
  ADD COLUMN language VARCHAR(8) CHARACTER SET ascii NULL AFTER name;
ALTER TABLE call_log
  ADD COLUMN transcript_language VARCHAR(8) CHARACTER SET ascii NULL
    AFTER transcript_segments;
