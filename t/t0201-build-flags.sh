#!/bin/bash
test_description='the build: -march is a knob, and the GPU bundle is not built for this CPU'
. ./lib-test.sh

test_expect_success 'the optimized build takes MARCH, native by default' '
	make -s -n -B -C "$TOP" BUILD="$PWD/b" CUDA=0 "$PWD/b/rel/share/util/num.o" >default &&
	grep -e "-march=native" default &&
	make -s -n -B -C "$TOP" BUILD="$PWD/b" CUDA=0 MARCH=x86-64-v2 "$PWD/b/rel/share/util/num.o" >v2 &&
	grep -e "-march=x86-64-v2" v2 &&
	! grep -e "-march=native" v2
'

test_expect_success 'scripts/gpu-bundle.sh builds for a portable CPU, not -march=native' '
	mkdir -p repo/scripts fakebin &&
	cp "$TOP/scripts/gpu-bundle.sh" repo/scripts/ &&
	cat >fakebin/make <<-\EOF &&
	#!/bin/sh
	printf "%s\n" "$@" >"$OLDPWD/make.args"
	mkdir -p build/gpu/rel/bin && cp "$(command -v lm-stat)" build/gpu/rel/bin/
	EOF
	chmod +x fakebin/make &&
	PATH="$PWD/fakebin:$PATH" LMPIPE_SHARED="$PWD/none" repo/scripts/gpu-bundle.sh >out 2>err &&
	grep -x "MARCH=x86-64-v3" make.args &&
	grep "benchmarks that read its corpora will not run" err &&
	PATH="$PWD/fakebin:$PATH" LMPIPE_SHARED="$PWD/none" MARCH=x86-64-v2 repo/scripts/gpu-bundle.sh >out 2>err &&
	grep -x "MARCH=x86-64-v2" make.args
'

test_done
