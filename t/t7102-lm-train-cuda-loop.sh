#!/bin/bash
test_description='lm-train --device cuda: the rest of the loop, as on the CPU

t/lib-train-loop.sh, the tests t3201 and t3300 run on the CPU, with
--device cuda: SIGTERM finishes the step, checkpoints and resumes bit for
bit; a NaN loss and a diverging run stop with exit 1 and the last
checkpoint intact; the periodic sample is lm-sample --device cuda'"'"'s and
the HellaSwag figure lm-eval --device cuda'"'"'s on the same checkpoint, and
neither changes the training. On a GPU, or in CI on the CUDA emulation
(make CUDA=emu), which runs the same wiring with the kernels'"'"' CPU twins.'
. ./lib-test.sh
. "$TEST_DIRECTORY/lib-train.sh"
DEVICE=cuda LOOP_PREREQ=CUDA_RUN
. "$TEST_DIRECTORY/lib-train-loop.sh"

test_expect_success CUDA_RUN 'set up shards' '
	test-tool train stream 20000 64 | shard -o data --val-tokens 2000
'

loop_signal_tests
loop_sample_hellaswag_tests

test_done
