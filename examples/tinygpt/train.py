"""
A small GPT trained on the synthetic corpus of prepare.py, for a fixed time
budget, on CPU or CUDA (PyTorch 1.13 or later; attention written out, since
older releases lack scaled_dot_product_attention).

Environment: DEPTH (layers; default: the DEPTH constant), TIME_BUDGET
(training seconds, counted after the warm-up steps; default 30), SEED
(default: the SEED constant), DEVICE (cpu | cuda; default cuda when available).
"""

import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from prepare import SEQ_LEN, VOCAB_SIZE, evaluate_bpb, load_split, prepare_data

# ---------------------------------------------------------------------------
# Hyperparameters
# ---------------------------------------------------------------------------

DEPTH = 2  # transformer blocks; the DEPTH environment variable overrides it
N_EMBD = 64
N_HEAD = 4
MLP_RATIO = 4
BATCH_SIZE = 16
LEARNING_RATE = 0.0003
WARMUP_STEPS = 0
WARMDOWN_RATIO = 0.0  # fraction of the budget over which the learning rate decays to zero
WEIGHT_DECAY = 0.0
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.95
GRAD_CLIP = 1.0
DROPOUT = 0.0
SEED = 42

# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        assert n_embd % n_head == 0, "N_EMBD must be divisible by N_HEAD"
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)
        mask = torch.tril(torch.ones(SEQ_LEN, SEQ_LEN, dtype=torch.bool))
        self.register_buffer("mask", mask.view(1, 1, SEQ_LEN, SEQ_LEN), persistent=False)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))
        att = att.masked_fill(~self.mask[:, :, :t, :t], float("-inf"))
        att = self.dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.dropout(self.proj(y))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, mlp_ratio, dropout):
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, mlp_ratio * n_embd),
            nn.GELU(),
            nn.Linear(mlp_ratio * n_embd, n_embd),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, depth):
        super().__init__()
        self.tok = nn.Embedding(VOCAB_SIZE, N_EMBD)
        self.pos = nn.Embedding(SEQ_LEN, N_EMBD)
        self.drop = nn.Dropout(DROPOUT)
        self.blocks = nn.ModuleList(Block(N_EMBD, N_HEAD, MLP_RATIO, DROPOUT) for _ in range(depth))
        self.ln_f = nn.LayerNorm(N_EMBD)
        self.head = nn.Linear(N_EMBD, VOCAB_SIZE, bias=False)
        self.head.weight = self.tok.weight  # weight tying
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx):
        t = idx.size(1)
        x = self.drop(self.tok(idx) + self.pos(torch.arange(t, device=idx.device)))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def get_batch(data, generator, device):
    ix = torch.randint(len(data) - SEQ_LEN - 1, (BATCH_SIZE,), generator=generator)
    offs = torch.arange(SEQ_LEN + 1)
    chunk = data[ix[:, None] + offs[None, :]].long().to(device)
    return chunk[:, :-1], chunk[:, 1:]


def lr_multiplier(step, progress):
    if step < WARMUP_STEPS:
        return (step + 1) / WARMUP_STEPS
    if WARMDOWN_RATIO > 0 and progress > 1 - WARMDOWN_RATIO:
        return max(0.0, (1 - progress) / WARMDOWN_RATIO)
    return 1.0


def main():
    t_start = time.time()
    depth = int(os.environ.get("DEPTH") or DEPTH)
    seed = int(os.environ.get("SEED") or SEED)
    time_budget = float(os.environ.get("TIME_BUDGET") or 30)
    device = torch.device(os.environ.get("DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.manual_seed(seed)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    prepare_data()
    train_data = load_split("train")
    model = GPT(depth).to(device)
    num_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
        lr=LEARNING_RATE,
        betas=(ADAM_BETA1, ADAM_BETA2),
    )
    generator = torch.Generator().manual_seed(seed)

    step, training_seconds, last_print = 0, 0.0, 0.0
    while True:
        t0 = time.time()
        progress = min(training_seconds / time_budget, 1.0)
        lrm = lr_multiplier(step, progress)
        for group in optimizer.param_groups:
            group["lr"] = LEARNING_RATE * lrm
        x, y = get_batch(train_data, generator, device)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, VOCAB_SIZE), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if GRAD_CLIP > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        loss_value = loss.item()
        if math.isnan(loss_value) or loss_value > 100:
            print("\nFAIL")
            sys.exit(1)
        dt = time.time() - t0
        step += 1
        if step > 5:  # the first steps (allocator and cache warm-up) are not timed
            training_seconds += dt
        if time.time() - last_print > 0.25 or training_seconds >= time_budget:
            last_print = time.time()
            pct = 100 * min(training_seconds / time_budget, 1.0)
            tok_per_sec = BATCH_SIZE * SEQ_LEN / max(dt, 1e-9)
            print(
                f"\rstep {step:05d} ({pct:.1f}%) | loss: {loss_value:.6f} | lrm: {lrm:.2f} | dt: {dt * 1000:.0f}ms "
                f"| tok/sec: {tok_per_sec:,.0f} | remaining: {max(0.0, time_budget - training_seconds):.0f}s    ",
                end="",
                flush=True,
            )
        if training_seconds >= time_budget:
            break
    print()

    val_bpb = evaluate_bpb(model, device)  # locked evaluation
    if device.type == "cuda":
        peak_vram_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_vram_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # CPU: peak resident memory
    t_end = time.time()
    print("---")
    print(f"val_bpb:          {val_bpb:.6f}")
    print(f"training_seconds: {training_seconds:.1f}")
    print(f"total_seconds:    {t_end - t_start:.1f}")
    print(f"peak_vram_mb:     {peak_vram_mb:.1f}")
    print(f"num_steps:        {step}")
    print(f"num_params_M:     {num_params / 1e6:.2f}")
    print(f"depth:            {depth}")


if __name__ == "__main__":
    main()
