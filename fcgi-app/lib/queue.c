/* queue.c: written in this change. */
