#ifndef CP_STT_AUDIO_H
#define CP_STT_AUDIO_H
#endif
