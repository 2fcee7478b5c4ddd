#ifndef CP_WEBHOOK_H
#define CP_WEBHOOK_H
#endif
