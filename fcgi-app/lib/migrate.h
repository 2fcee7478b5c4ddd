#ifndef CP_MIGRATE_H
#define CP_MIGRATE_H
#endif
