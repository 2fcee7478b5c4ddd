/* twilio_sig.c: written in this change. */
