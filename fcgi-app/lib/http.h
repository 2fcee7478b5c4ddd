#ifndef CP_HTTP_H
#define CP_HTTP_H
#endif
