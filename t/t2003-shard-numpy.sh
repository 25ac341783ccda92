#!/bin/bash
test_description='shard: numpy reads our shards as modded-nanogpt does, we read numpy-written ones'
. ./lib-test.sh

test_expect_success 'setup: a stream of 2500 tokens, shards of 1000' '
	test-tool shard gen 2500 --eot-every 50 >tok.u16 &&
	shard -o d -n 1000 tok.u16
'

# modded-nanogpt / llm.c: header int32[256], magic and version asserted,
# count at [2], uint16 tokens after the 1024 bytes.
test_expect_success PYTHON 'numpy reads every shard; the tokens are the stream' '
	"$PYTHON" - d tok.u16 <<-\PY
	import sys, glob, numpy as np
	d, stream = sys.argv[1], sys.argv[2]
	def load(path):
	    header = np.fromfile(path, dtype=np.int32, count=256)
	    assert header[0] == 20240520, "magic"
	    assert header[1] == 1, "version"
	    ntok = int(header[2])
	    with open(path, "rb") as f:
	        f.seek(256 * 4)
	        tokens = np.frombuffer(f.read(), dtype=np.uint16)
	    assert len(tokens) == ntok, "count"
	    assert (header[3:] == 0).all()
	    return tokens
	files = sorted(glob.glob(d + "/*_val_*.bin")) + sorted(glob.glob(d + "/*_train_*.bin"))
	assert [len(load(f)) for f in files] == [1000, 1000, 500], files
	got = np.concatenate([load(f) for f in files])
	want = np.fromfile(stream, dtype="<u2")
	assert (got == want).all()
	PY
'

test_expect_success PYTHON 'a numpy-written shard (llm.c write_datafile) passes --info and loads' '
	"$PYTHON" - <<-\PY &&
	import numpy as np
	toks = (np.arange(3000) * 7919 % 50257).astype(np.uint16)
	toks[99::100] = 50256
	header = np.zeros(256, dtype=np.int32)
	header[0], header[1], header[2] = 20240520, 1, len(toks)
	with open("py_train_000001.bin", "wb") as f:
	    f.write(header.tobytes())
	    f.write(toks.tobytes())
	PY
	shard --info --json --head 3 py_train_000001.bin >actual &&
	echo "{\"file\":\"py_train_000001.bin\",\"format\":\"bin\",\"version\":1,\"tokens\":3000,\"bytes\":7024,\"min\":0,\"max\":50256,\"documents\":30,\"head\":[0,7919,15838]}" >expect &&
	test_cmp expect actual &&
	mkdir p && mv py_train_000001.bin p/ &&
	test-tool loader -B 4 -T 100 --val p train >rows &&
	test $(wc -l <rows) = 29 && head -n 1 rows >first &&
	"$PYTHON" -c "
import numpy as np
t = (np.arange(101, dtype=np.int64) * 7919 % 50257); t[99] = 50256
print(\"0 py_train_000001.bin 0\", int((t * np.arange(1, 102)).sum()) % 2**32)" >expect &&
	test_cmp expect first
'

test_expect_success PYTHON '--info --json is JSON lines with the counts numpy finds' '
	shard --info --json d/* >info.jsonl &&
	"$PYTHON" - <<-\PY
	import json, numpy as np
	for line in open("info.jsonl"):
	    j = json.loads(line)
	    t = np.fromfile(j["file"], dtype=np.uint16)[512:]
	    assert j["tokens"] == len(t) and j["min"] == t.min() and j["max"] == t.max(), j
	    assert j["documents"] == int((t == 50256).sum()) and j["head"] == t[:8].tolist(), j
	PY
'

test_done
