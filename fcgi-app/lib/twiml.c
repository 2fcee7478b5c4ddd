/* twiml.c: written in this change. */
