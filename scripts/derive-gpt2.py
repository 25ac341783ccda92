#!/usr/bin/env python3
"""derive-gpt2.py TABLE DEST — GPT-2's vocab.bpe and encoder.json, rebuilt
from its rank table (gpt2.tiktoken, fetched sha256-pinned by fetch-gpt2.sh)
and checked byte for byte against the sha256 that tiktoken pins for OpenAI's
own files. The tests compare our tokenizer with these; no OpenAI file is
stored in the repository.

The table gives each token its rank; the merge that made a token is the
last step of byte-level BPE on the token's bytes with the ranks below its
own (tiktoken's rule), which leaves exactly two parts. encoder.json is the
ranks in GPT-2's printable byte alphabet, <|endoftext|> = 50256, written as
Python's json.dumps writes a dict.
"""
import base64, hashlib, json, os, sys

VOCAB_BPE_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
ENCODER_JSON_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
EOT = "<|endoftext|>"


def byte_alphabet():
    """byte -> its printable character in GPT-2's vocab.bpe and encoder.json."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def read_table(path):
    ranks = {}
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                tok, rank = line.split()
                ranks[base64.b64decode(tok)] = int(rank)
    return ranks


def last_merge(ranks, token, rank):
    """The two parts BPE leaves of token with the ranks below rank."""
    parts = [bytes([b]) for b in token]
    while True:
        best = None
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < rank and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    if len(parts) != 2:
        sys.exit("derive-gpt2: token of rank %d does not split in two" % rank)
    return parts


def write_checked(path, data, sha256):
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        sys.exit("derive-gpt2: %s would have sha256 %s, not %s: not written" % (path, got, sha256))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: derive-gpt2.py TABLE DEST_DIR")
    table, dest = sys.argv[1:]
    ranks = read_table(table)
    alpha = byte_alphabet()
    spell = lambda b: "".join(alpha[x] for x in b)
    by_rank = sorted(ranks, key=ranks.get)
    merges = ["#version: 0.2"]
    for tok in by_rank:
        if len(tok) > 1:
            a, b = last_merge(ranks, tok, ranks[tok])
            merges.append(spell(a) + " " + spell(b))
    encoder = {spell(tok): ranks[tok] for tok in by_rank}
    encoder[EOT] = len(encoder)
    os.makedirs(dest, exist_ok=True)
    write_checked(os.path.join(dest, "vocab.bpe"), ("\n".join(merges) + "\n").encode("utf-8"), VOCAB_BPE_SHA256)
    write_checked(os.path.join(dest, "encoder.json"), json.dumps(encoder).encode("utf-8"), ENCODER_JSON_SHA256)


if __name__ == "__main__":
    main()
