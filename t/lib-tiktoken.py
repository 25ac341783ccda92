"""lib-tiktoken.py — the tokenizer oracles for t/t10xx (engineer A's tests).

gpt2(): tiktoken's gpt2 Encoding built offline from $GPT2_DATA (t/lib-test.sh:
GPT-2's files derived at set-up) (vocab ranks from encoder.json, the pattern tiktoken 0.8.0 ships for gpt2),
with <|endoftext|> = 50256.

pairs(): an Encoding whose vocabulary is the 256 bytes and every pair of
bytes, pairs that begin with an ASCII byte ranked first. Within one
pre-token an ASCII byte always merges with the byte after it, so the tokens
show where tiktoken's pre-tokenizer cut: the probe that reads the class of
each code point. pairs_merges() writes the same vocabulary as a merges file.
"""
import json, os

GPT2_PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def _derive_gpt2():
    """scripts/derive-gpt2.py, the one place GPT-2's byte alphabet is written."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "derive-gpt2.py")
    spec = importlib.util.spec_from_file_location("derive_gpt2", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def byte_alphabet():
    """printable character in GPT-2's vocab.bpe and encoder.json -> its byte."""
    return {c: b for b, c in _derive_gpt2().byte_alphabet().items()}


def gpt2():
    import tiktoken
    dec = byte_alphabet()
    d = os.environ["GPT2_DATA"]
    enc = json.load(open(os.path.join(d, "encoder.json"), encoding="utf-8"))
    ranks = {bytes(dec[ch] for ch in tok): i for tok, i in enc.items() if tok != "<|endoftext|>"}
    return tiktoken.Encoding("gpt2", pat_str=GPT2_PAT, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": 50256})


def pair_order():
    """The byte pairs in rank order (after the 256 bytes, in encoder.json order)."""
    first = [(a, b) for a in range(128) for b in range(256)]
    rest = [(a, b) for a in range(128, 256) for b in range(256)]
    return first + rest


def pairs():
    import tiktoken
    dec = byte_alphabet()
    alpha = list(dec.values())  # byte ranks 0..255 in GPT-2's alphabet order
    ranks = {bytes([b]): i for i, b in enumerate(alpha)}
    for i, (a, b) in enumerate(pair_order()):
        ranks[bytes([a, b])] = 256 + i
    return tiktoken.Encoding("pairs", pat_str=GPT2_PAT, mergeable_ranks=ranks, special_tokens={})


def pairs_merges(path):
    inv = {b: ch for ch, b in byte_alphabet().items()}
    with open(path, "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in pair_order():
            f.write(inv[a] + " " + inv[b] + "\n")


def probe_classes(out):
    """Write "HEX CLASS" for every code point but the surrogates, as
    tiktoken's pre-tokenizer treats it: after "a" it joins a letter, after
    "1" a number, after "!" an other; " "+c+"x" keeps " " with c unless c is
    white space (0 other, 1 letter, 2 number, 3 space, 9 inconsistent)."""
    import numpy as np
    enc = pairs()
    tlen = np.array([len(enc.decode_single_token_bytes(i)) for i in range(enc.n_vocab)])
    cps = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]

    def joined(pre, post):
        # probes end in "\n", so each probe starts a pre-token
        parts = [pre + chr(c) + post + "\n" for c in cps]
        starts = np.cumsum([0] + [len(p.encode("utf-8")) for p in parts[:-1]])
        lens = tlen[np.array(enc.encode_ordinary("".join(parts)))]
        offs = np.concatenate([[0], np.cumsum(lens)[:-1]])
        two = set(offs[lens == 2].tolist())
        return [int(s) in two for s in starts]

    L, N, O, S = joined("a", ""), joined("1", ""), joined("!", ""), joined(" ", "x")
    with open(out, "w") as f:
        for c, l, n, o, s in zip(cps, L, N, O, S):
            cls = {1: 1, 2: 2, 4: 0, 0: 3}.get(l + 2 * n + 4 * o, 9)
            if (cls == 3) == s:
                cls = 9
            f.write("%X %d\n" % (c, cls))


def adversarial(seed, n=3000):
    """Text that stresses the pre-tokenizer: a sample of every general
    category, combining marks, digits of other scripts, every kind of white
    space, emoji sequences, contractions in mixed case, runs of white space
    before words, apostrophes, the special token and its pieces."""
    import random
    import unicodedata2 as ud
    rng = random.Random(seed)
    by_cat = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        by_cat.setdefault(ud.category(chr(cp)), []).append(chr(cp))
    spaces = [chr(c) for c in (9, 10, 11, 12, 13, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2007,
                               0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0x1C, 0x200B, 0x180E)]
    words = ["I'LL", "I'll", "don't", "DON'T", "we're", "We'VE", "'s", "'S", "'d", "'m", "'ll",
             "'re", "'ve", "''s", "x'", "'", "''", "hello", "world", "Hello", "123", "1,000.5",
             "٣٤٥", "१२३", "Ⅻ", "½", "café", "e\u0301", "a\u0308\u0301", "👍🏽", "👨‍👩‍👧",
             "🇫🇷", "❤️", "中文字", "日本語。", "한국어", "Ελληνικά", "עברית", "العربية",
             "<|endoftext|>", "<|endoftext", "<|", "|>", "\r\n", "\n\n\n", "  ", "\t\t",
             "!!", "...", "—", "\u00ad", "\ufeff", "\ufffd", "\U0001F600"]
    cats = sorted(by_cat)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.35:
            out.append(rng.choice(words))
        elif r < 0.6:
            out.append("".join(rng.choice(spaces) for _ in range(rng.randint(1, 5))))
        elif r < 0.85:
            cat = rng.choice(cats)
            out.append("".join(rng.choice(by_cat[cat]) for _ in range(rng.randint(1, 4))))
        else:
            out.append(chr(rng.randint(0x20, 0x7e)) * rng.randint(1, 3))
    return "".join(out)


def encode_file(enc, path, out, dtype="<u2"):
    """The ids of a UTF-8 file (allowed_special="all"), written as dtype."""
    import numpy as np
    text = open(path, "rb").read().decode("utf-8")
    np.array(enc.encode(text, allowed_special="all"), dtype=dtype).tofile(out)
