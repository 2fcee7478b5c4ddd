#ifndef CP_DB_H
#define CP_DB_H
#endif
