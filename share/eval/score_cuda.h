/*
 * score_cuda.h — the GPU model (model/cuda/gpt_cuda.h) as eval/score.h's
 * score_model: one forward with the targets, and every position's loss from
 * the fused cross-entropy kernel (fp32 log-sum-exp over the V real tokens,
 * the training loss), for lm-eval --device cuda.
 */
#ifndef LMPIPE_EVAL_SCORE_CUDA_H
#define LMPIPE_EVAL_SCORE_CUDA_H

#include "eval/score.h"
#include "model/cuda/gpt_cuda.h"

void score_model_cuda(score_model *s, gpt_cuda *g);

#endif
