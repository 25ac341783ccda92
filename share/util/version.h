/*
 * version.h — what a build of lmpipe is: its version and the features
 * compiled in, as every tool's --version states them.
 *
 * The features are fixed when the library is built (the Makefile probes
 * them and passes LMPIPE_FEATURES), one word each, always in this order and
 * always present, with + or -: cuda (the CUDA backend, real or emulated),
 * emu (the CUDA layer is t/cuda-emu's host emulation), mpi (multi-rank
 * runs through MPI), png (lm-stat renders PNG plots through librsvg). The
 * tests take their prerequisites from this line.
 */
#ifndef LMPIPE_VERSION_H
#define LMPIPE_VERSION_H

#include <stdio.h>

#define LMPIPE_VERSION "0.1.0"

/* "+cuda -emu +mpi +png": the features of this build. */
const char *version_features(void);

/* "TOOL (lmpipe) VERSION (FEATURES)\n" on f. */
void version_print(FILE *f, const char *tool);

#endif
