#ifndef CP_STORE_H
#define CP_STORE_H
#endif
