"""
Locked data and evaluation for the arswarm `tinygpt` example.

The corpus is synthetic text drawn from a seeded stochastic source whose
entropy rate is known exactly, so the floor no model can beat is a number,
not a guess:

- a lexicon of WORDS lower-case words (lengths 1..10, all distinct);
- a first-order Markov chain over words: each word has SUCCESSORS favoured
  followers (picked with Zipf weights, uneven probabilities) and spreads
  TELEPORT of its mass over every word by the Zipf law, so the chain is
  irreducible and aperiodic;
- the text is the words of one long run of the chain, each followed by a
  space. Tokens are bytes (vocabulary 256).

Bytes and words determine each other (spaces delimit words), so the byte
process's entropy rate is exactly

    H = sum_u pi(u) H(next | u) / sum_u pi(u) (len(u) + 1)   bits per byte

with pi the chain's stationary distribution: bits per word over bytes per
word. `python3 prepare.py` generates the corpus into the cache and prints the
floor. The cache dir is $ARSWARM_TINYGPT_CACHE, else
~/.cache/arswarm-tinygpt; each corpus lives in a sub-folder named by its
parameters, is written once (atomically) and reused.

Evaluation (`evaluate_bpb`): the first EVAL_TOKENS scored bytes of the
validation split, each predicted with at least SEQ_LEN // 2 bytes of context
(windows of SEQ_LEN advancing by SEQ_LEN // 2; only each window's second
half is scored). The model is called as `model(idx)` with idx a LongTensor
(B, SEQ_LEN) and must return logits (B, SEQ_LEN, VOCAB_SIZE) (or a tuple
whose first item is the logits); the cross-entropy is computed here.
"""

import bisect
import hashlib
import json
import math
import os
import random
import sys
import time

# ---------------------------------------------------------------------------
# Fixed constants: changing any of these changes the task.
# ---------------------------------------------------------------------------

CORPUS_SEED = 1337
WORDS = 512  # lexicon size
SUCCESSORS = 16  # favoured followers per word
TELEPORT = 0.05  # mass each word spreads over the whole lexicon
ZIPF_EXPONENT = 1.0
TRAIN_BYTES = 8 * 2**20
VAL_BYTES = 2**20
VOCAB_SIZE = 256  # tokens are bytes
SEQ_LEN = 128  # context length the evaluation uses
EVAL_TOKENS = 2**16  # scored validation bytes
FORMAT_VERSION = 1

CACHE_ENV = "ARSWARM_TINYGPT_CACHE"
LETTERS = "etaoinshrdlucmfwypvbgkjqxz"

# ---------------------------------------------------------------------------
# The source
# ---------------------------------------------------------------------------


def _params():
    return {
        "corpus_seed": CORPUS_SEED,
        "words": WORDS,
        "successors": SUCCESSORS,
        "teleport": TELEPORT,
        "zipf_exponent": ZIPF_EXPONENT,
        "train_bytes": TRAIN_BYTES,
        "val_bytes": VAL_BYTES,
        "format": FORMAT_VERSION,
    }


def cache_dir():
    """Where this corpus lives: one sub-folder per parameter set."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "arswarm-tinygpt")
    tag = hashlib.sha256(json.dumps(_params(), sort_keys=True).encode()).hexdigest()[:12]
    return os.path.join(root, f"corpus-{tag}")


def _zipf():
    w = [1.0 / (r + 1) ** ZIPF_EXPONENT for r in range(WORDS)]
    s = sum(w)
    return [x / s for x in w]


def build_source(seed=CORPUS_SEED):
    """
    The lexicon and transition matrix, from `random.Random(seed).random()`
    only (its output is stable across Python versions).
    """
    rng = random.Random(seed)
    # Short words are common, as in natural text; letters skew by English frequency.
    letter_cum = list(_cumulative([1.0 / (i + 2) for i in range(len(LETTERS))]))
    lexicon, seen = [], set()
    while len(lexicon) < WORDS:
        n = 1 + min(9, int(-math.log(1.0 - rng.random()) * 3.0 + 0.5 * len(lexicon) / WORDS))
        w = "".join(LETTERS[bisect.bisect_right(letter_cum, rng.random() * letter_cum[-1])] for _ in range(n))
        if w not in seen:
            seen.add(w)
            lexicon.append(w)
    zipf = _zipf()
    zipf_cum = list(_cumulative(zipf))
    rows = []
    for _ in range(WORDS):
        picked = []
        while len(picked) < SUCCESSORS:
            v = min(WORDS - 1, bisect.bisect_right(zipf_cum, rng.random() * zipf_cum[-1]))
            if v not in picked:
                picked.append(v)
        # Heavy-tailed weights: a few likely followers, many rare ones.
        weights = [zipf[v] ** 0.5 * (-math.log(1.0 - rng.random())) ** 2 for v in picked]
        total = sum(weights)
        row = [TELEPORT * z for z in zipf]
        for v, w in zip(picked, weights):
            row[v] += (1.0 - TELEPORT) * w / total
        rows.append(row)
    return lexicon, rows


def _cumulative(xs):
    acc = 0.0
    for x in xs:
        acc += x
        yield acc


def stationary(rows, iterations=10_000, tol=1e-15):
    """Stationary distribution of the word chain (power iteration)."""
    import numpy as np

    p = np.array(rows, dtype=np.float64)
    pi = np.full(len(rows), 1.0 / len(rows))
    for _ in range(iterations):
        nxt = pi @ p
        nxt /= nxt.sum()
        if np.abs(nxt - pi).max() < tol:
            return nxt
        pi = nxt
    raise RuntimeError("word chain did not converge")


def entropy_floor(lexicon, rows):
    """Exact entropy rate of the byte process, and its parts."""
    import numpy as np

    p = np.array(rows, dtype=np.float64)
    pi = stationary(rows)
    bits_per_word = float(-(pi[:, None] * p * np.log2(p)).sum())
    bytes_per_word = float(sum(pi[i] * (len(w) + 1) for i, w in enumerate(lexicon)))
    return {
        "entropy_bits_per_byte": bits_per_word / bytes_per_word,
        "bits_per_word": bits_per_word,
        "bytes_per_word": bytes_per_word,
    }


def generate_text(lexicon, rows, n_bytes, seed, start_word=0):
    """n_bytes of text from one run of the chain, starting after `start_word`."""
    rng = random.Random(seed)
    cums = [list(_cumulative(r)) for r in rows]
    out, size, u = [], 0, start_word
    while size < n_bytes:
        cum = cums[u]
        u = min(WORDS - 1, bisect.bisect_right(cum, rng.random() * cum[-1]))
        out.append(lexicon[u])
        size += len(lexicon[u]) + 1
    text = (" ".join(out) + " ").encode("ascii")
    return text[:n_bytes]


# ---------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------


def _write_atomic(path, data):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def prepare_data(verbose=True):
    """Generates the corpus into the cache unless it is there; returns its dir."""
    d = cache_dir()
    meta_path = os.path.join(d, "meta.json")
    if os.path.exists(meta_path):
        return d
    os.makedirs(d, exist_ok=True)
    t0 = time.time()
    if verbose:
        print(f"generating corpus in {d} ...", file=sys.stderr, flush=True)
    lexicon, rows = build_source()
    floor = entropy_floor(lexicon, rows)
    train = generate_text(lexicon, rows, TRAIN_BYTES, CORPUS_SEED + 1)
    val = generate_text(lexicon, rows, VAL_BYTES, CORPUS_SEED + 2)
    _write_atomic(os.path.join(d, "train.bin"), train)
    _write_atomic(os.path.join(d, "val.bin"), val)
    meta = {
        **_params(),
        **floor,
        "oracle_eval_bpb": oracle_eval_bpb(lexicon, rows, val),
        "train_sha256": hashlib.sha256(train).hexdigest(),
        "val_sha256": hashlib.sha256(val).hexdigest(),
        "seq_len": SEQ_LEN,
        "eval_tokens": EVAL_TOKENS,
    }
    # meta.json last: its presence means the corpus is complete.
    _write_atomic(meta_path, (json.dumps(meta, indent=2) + "\n").encode())
    if verbose:
        print(f"corpus ready in {time.time() - t0:.1f}s", file=sys.stderr, flush=True)
    return d


def load_meta():
    with open(os.path.join(prepare_data(verbose=False), "meta.json"), encoding="utf-8") as f:
        return json.load(f)


def load_split(split):
    """The bytes of `train` or `val` as a uint8 tensor."""
    import torch

    with open(os.path.join(prepare_data(), f"{split}.bin"), "rb") as f:
        data = f.read()
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


def _eval_targets(n_val):
    ctx = SEQ_LEN // 2
    if ctx + 1 + EVAL_TOKENS > n_val:
        raise ValueError("validation split too small for EVAL_TOKENS")
    return ctx + 1, ctx + 1 + EVAL_TOKENS  # scored target positions [start, end)


def oracle_eval_bpb(lexicon, rows, val):
    """What the true source scores on exactly the evaluated bytes."""
    start, end = _eval_targets(len(val))
    words = val.decode("ascii").split(" ")
    index = {w: i for i, w in enumerate(lexicon)}
    bits, pos, prev = 0.0, 0, 0
    for w in words:
        if pos >= end or not w:
            break
        u = index[w]
        s = w + " "
        lo, hi = max(start, pos), min(end, pos + len(s))
        if lo == pos and hi == pos + len(s):
            bits -= math.log2(rows[prev][u])
        elif lo < hi:
            row = rows[prev]

            def mass(prefix):
                return sum(row[i] for i, x in enumerate(lexicon) if (x + " ").startswith(prefix))

            bits -= math.log2(mass(s[: hi - pos]) / mass(s[: lo - pos]))
        prev, pos = u, pos + len(s)
    return bits / (end - start)


def evaluate_bpb(model, device=None, batch_size=64):
    """Validation bits per byte of `model` on the fixed evaluation bytes."""
    import torch
    import torch.nn.functional as F

    data = load_split("val").long()
    start, end = _eval_targets(len(data))
    ctx = SEQ_LEN // 2
    starts = list(range(start - ctx - 1, end - SEQ_LEN, ctx))
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_nats, scored = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(starts), batch_size):
            s = torch.tensor(starts[i : i + batch_size])
            offs = torch.arange(SEQ_LEN + 1)
            chunk = data[s[:, None] + offs[None, :]].to(device)
            x, y = chunk[:, :-1], chunk[:, 1:]
            out = model(x)
            logits = out[0] if isinstance(out, (tuple, list)) else out
            logp = F.log_softmax(logits[:, ctx:, :].float(), dim=-1)
            nll = -logp.gather(-1, y[:, ctx:, None]).squeeze(-1)
            total_nats += float(nll.double().sum())
            scored += nll.numel()
    model.train(was_training)
    if scored != EVAL_TOKENS:
        raise AssertionError(f"scored {scored} bytes, expected {EVAL_TOKENS}")
    return total_nats / scored / math.log(2)


if __name__ == "__main__":
    d = prepare_data()
    meta = load_meta()
    print(f"cache:                 {d}")
    print(f"entropy_bits_per_byte: {meta['entropy_bits_per_byte']:.6f}")
    print(f"oracle_eval_bpb:       {meta['oracle_eval_bpb']:.6f}")
    print(f"bits_per_word:         {meta['bits_per_word']:.4f}")
    print(f"bytes_per_word:        {meta['bytes_per_word']:.4f}")
    print(f"train_sha256:          {meta['train_sha256']}")
    print(f"val_sha256:            {meta['val_sha256']}")
