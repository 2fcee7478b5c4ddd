#ifndef CP_CALLS_H
#define CP_CALLS_H
#endif
