/*
 * half.h — 16-bit floats of the checkpoint formats: IEEE binary16 (f16) and
 * bfloat16 (bf16, the top half of a float32). Float to 16 bits rounds to
 * nearest, ties to even (as torch's .to(torch.bfloat16) and numpy's
 * float16 do); NaN stays NaN.
 */
#ifndef LMPIPE_CKPT_HALF_H
#define LMPIPE_CKPT_HALF_H

#include <stdint.h>

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bf16_to_float(uint16_t h);
uint16_t float_to_bf16(float f);

#endif
