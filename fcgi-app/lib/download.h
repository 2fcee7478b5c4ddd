#ifndef CP_DOWNLOAD_H
#define CP_DOWNLOAD_H
#endif
