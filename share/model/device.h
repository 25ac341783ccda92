/*
 * device.h — where a model runs, for the tools' --device: "cpu" (the fp32
 * reference), "cuda" (bf16 on the GPU, in builds with CUDA), or "auto":
 * cuda when this build has CUDA and the process sees a GPU, else cpu.
 */
#ifndef LMPIPE_MODEL_DEVICE_H
#define LMPIPE_MODEL_DEVICE_H

/* "cpu" or "cuda" for NAME (auto resolved); NULL for an unknown name. */
const char *device_resolve(const char *name);

#endif
