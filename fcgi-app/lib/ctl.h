#ifndef CP_CTL_H
#define CP_CTL_H
#endif
