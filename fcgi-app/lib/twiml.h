/*
 * twiml.h: the TwiML callpipe answers (DESIGN.md §3; Twilio docs
 * twilio.com/docs/voice/twiml/recording and .../twiml/stream).
 */
#ifndef CP_TWIML_H
#define CP_TWIML_H

#include <stddef.h>
#include "conf.h"
#include "cp_err.h"

/*
 * Builds the answer to a voice webhook (incoming_call / outbound_call):
 * <Start><Recording channels="dual" trim="do-not-trim"
 * recordingStatusCallback=".../webhook/handle_recording"
 * recordingStatusCallbackEvent="in-progress completed absent"/></Start>
 * then <Connect action=".../webhook/stream_ended"><Stream url="stream.url">
 * <Parameter name="call_sid" value="CallSid"/></Stream></Connect>.
 * Every attribute value is XML-escaped (& < > " '). With
 * recording.mode = "rest" the <Start> element is left out (a job starts the
 * recording by REST instead).
 * *out is malloc'd, NUL-terminated, owned by the caller.
 * Returns CP_OK or CP_NOMEM.
 */
enum cp_err twiml_voice_answer(const struct cp_conf *conf,
    const char *call_sid, char **out);

/* The empty answer "<?xml ...?><Response/>", a static string. */
const char *twiml_empty(void);

/*
 * Appends s XML-escaped for an attribute value to buf (capacity cap bytes,
 * current length *len). Returns CP_OK or CP_NOMEM when it does not fit
 * (buf is left NUL-terminated at the old length).
 */
enum cp_err twiml_escape_append(char *buf, size_t cap, size_t *len,
    const char *s);

#endif
