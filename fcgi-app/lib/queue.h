#ifndef CP_QUEUE_H
#define CP_QUEUE_H
#endif
