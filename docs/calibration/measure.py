#!/usr/bin/env python3
"""Calibration measurements for `plan` (activation / KV-cache / prefill memory of HF causal LMs).

Versions this was written against and run with (see findings.md for the measured results):
    Python 3.11.7, torch 2.15.0+cu132 (run on CPU only), transformers 5.24.0

How to run (outside the repo's build; needs only torch + transformers from PyPI, no Hub access):
    python3 -m venv /work/venv-calib
    /work/venv-calib/bin/pip install torch transformers
    /work/venv-calib/bin/python measure.py --out measurements.json
Options: --only SUBSTRING (run only case ids containing it), --threads N (default 1).
The formulas derived from these measurements live in check_formulas.py (plain python3, no torch),
which checks every case; the write-up is findings.md.
Everything is deterministic: tiny random-weight models are built from configs with fixed seeds
(`AutoModelForCausalLM.from_config`), inputs are drawn from a seeded generator, and every number
reported is a byte count that does not depend on the random values.

What is counted
---------------
1. Training ("train" cases): model.train(), forward with labels=input_ids (loss computed by HF's
   ForCausalLMLoss), in bf16 or fp32, attn_implementation eager or sdpa, gradient checkpointing off /
   non-reentrant / reentrant.
   * saved_bytes_total: every tensor autograd saves for backward is seen through
     torch.autograd.graph.saved_tensors_hooks (pack hook).  Each underlying storage is counted once
     (key = untyped_storage().data_ptr(), size = untyped_storage().nbytes()); storages that belong to
     a parameter (or share storage with one, e.g. weight.t()) are excluded.  Module attribution:
     forward pre/post hooks on every module maintain a "current module" stack; a storage is
     attributed to the module that saved it first.  A storage saved from two different decoder
     layers (RoPE cos/sin) goes to breakdown["other"] as "shared".
     Op attribution: after the forward (only when checkpointing is off) the autograd graph is
     walked from loss.grad_fn and every `_saved_*` attribute of every node is read, giving
     "NodeName._saved_attr" for each storage.
     NOTE on checkpointing: inside a checkpointed layer torch's own saved_tensors_hooks are on top
     of the stack, so the user hook sees nothing from inside the layer (nothing is stored there).
     It does see the layer's positional tensor inputs (reentrant: CheckpointFunction
     .save_for_backward; non-reentrant: _CheckpointFrame.save_inputs, called before torch pushes
     its hook).  It cannot see what the checkpoint keeps by other means (RNG state, kwargs held
     by the recompute closure: RoPE cos/sin, position_ids, masks).  That is why the allocator
     accounting below exists.
   * alive_after_forward_bytes: ground truth from the CPU allocator.  The whole step runs under
     torch.profiler with profile_memory=True; every CPU allocation/free (ptr, size, time) is read
     from the profiler event tree.  The input ids and labels are created inside the profiled
     window; after the forward the script drops every Python reference except the loss
     (`out`, input_ids, labels), so what is still allocated is exactly what the autograd graph
     (or the checkpoint closures) keeps alive for the backward, plus the 4-byte loss scalar.
     Parameters are allocated before the window and never counted.
   * forward_peak_bytes / backward_peak_bytes: maximum of the live allocated bytes (same
     accounting, relative to the start of the window) during the forward and during the
     backward (the backward number includes the parameter gradients as they get allocated:
     param_grad_bytes is reported next to it).
   * Gradient checkpointing is enabled with model.activation_checkpointing_enable(
     activation_checkpointing_kwargs={"use_reentrant": ...}); gradient_checkpointing_enable is a
     deprecated alias of it in transformers 5.x.  Python numbers used in autograd ops become 8-byte
     "wrapped number" tensors that autograd saves without calling saved_tensors_hooks; only the
     allocator accounting sees them.
2. KV cache ("kv" cases): model.eval(), torch.no_grad(), use_cache=True forward over b x s tokens;
   kv_cache_bytes = sum of the storages of every key/value tensor held by the returned cache
   (deduplicated; kv_logical_bytes = numel*element_size of the views), plus the cache class and
   per-layer classes/shapes; the same again after 1 and 2 greedy decode steps (after_N_decode).
3. Prefill working memory ("prefill" cases): model.eval(), torch.no_grad(), same profiler
   accounting; peak_bytes = max live bytes during the forward, relative to before the forward
   (input ids pre-existing, parameters never counted); the module and aten op that were running
   at the peak are reported (peak_at).  With use_cache=False there is no KV, and the value is also
   reported as peak_working_bytes; with use_cache=True it includes the KV cache built so far and
   is also reported as peak_including_kv_bytes.  Both with all-position logits and with
   logits_to_keep=1.
"""
import argparse
import gc
import json
import math
import re
import sys
import time
from collections import OrderedDict, defaultdict

import torch
import transformers
from torch.profiler import ProfilerActivity, profile
from torch.profiler._memory_profiler import _EventType
from transformers import (
    AutoModelForCausalLM,
    Gemma2Config,
    GPT2Config,
    LlamaConfig,
    MistralConfig,
    MixtralConfig,
    Phi3Config,
    Qwen2Config,
)

transformers.logging.set_verbosity_error()

# --------------------------------------------------------------------------------------------
# Architectures (small configs; "odd" shapes on purpose)
# --------------------------------------------------------------------------------------------
COMMON = dict(max_position_embeddings=512, bos_token_id=1, eos_token_id=2, pad_token_id=0)


def cfg_llama_gqa():
    return LlamaConfig(vocab_size=1000, hidden_size=256, intermediate_size=688, num_hidden_layers=2,
                       num_attention_heads=8, num_key_value_heads=2, tie_word_embeddings=False, **COMMON)


def cfg_llama_gqa_odd():
    # non-power-of-two everything, vocab 3001, explicit head_dim 40 with a*d != h
    return LlamaConfig(vocab_size=3001, hidden_size=320, intermediate_size=864, num_hidden_layers=3,
                       num_attention_heads=10, num_key_value_heads=5, head_dim=40,
                       tie_word_embeddings=False, **COMMON)


def cfg_llama_v5k_tied():
    return LlamaConfig(vocab_size=5000, hidden_size=256, intermediate_size=688, num_hidden_layers=2,
                       num_attention_heads=8, num_key_value_heads=2, tie_word_embeddings=True, **COMMON)


def cfg_llama_mha():
    return LlamaConfig(vocab_size=1000, hidden_size=256, intermediate_size=688, num_hidden_layers=2,
                       num_attention_heads=8, num_key_value_heads=8, tie_word_embeddings=False, **COMMON)


def cfg_qwen2():
    return Qwen2Config(vocab_size=1500, hidden_size=192, intermediate_size=512, num_hidden_layers=2,
                       num_attention_heads=6, num_key_value_heads=2, tie_word_embeddings=False, **COMMON)


def cfg_mistral():
    return MistralConfig(vocab_size=1000, hidden_size=256, intermediate_size=640, num_hidden_layers=2,
                         num_attention_heads=8, num_key_value_heads=4, sliding_window=64,
                         tie_word_embeddings=False, **COMMON)


def cfg_gemma2():
    # explicit head_dim 48 with a*d = 192 != h = 256, alternating sliding/full layers
    return Gemma2Config(vocab_size=2048, hidden_size=256, intermediate_size=512, num_hidden_layers=4,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=48, sliding_window=48,
                        query_pre_attn_scalar=48, **COMMON)


def cfg_gemma2_nosoftcap():
    c = cfg_gemma2()
    c.attn_logit_softcapping = None  # sdpa refuses softcap
    return c


def cfg_phi3():
    return Phi3Config(vocab_size=1200, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                      num_attention_heads=8, num_key_value_heads=4, tie_word_embeddings=False,
                      sliding_window=None, **COMMON)


def cfg_mixtral():
    return MixtralConfig(vocab_size=1000, hidden_size=128, intermediate_size=224, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
                         num_experts_per_tok=2, sliding_window=None, tie_word_embeddings=False,
                         output_router_logits=False, **COMMON)


def cfg_gpt2():
    return GPT2Config(vocab_size=1000, n_embd=192, n_layer=2, n_head=6, n_positions=512, bos_token_id=1,
                      eos_token_id=2)


def cfg_gpt2_nodrop():
    return GPT2Config(vocab_size=1000, n_embd=192, n_layer=2, n_head=6, n_positions=512, bos_token_id=1,
                      eos_token_id=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)


ARCHS = OrderedDict(
    llama_gqa=cfg_llama_gqa,
    llama_gqa_odd=cfg_llama_gqa_odd,
    llama_v5k_tied=cfg_llama_v5k_tied,
    llama_mha=cfg_llama_mha,
    qwen2=cfg_qwen2,
    mistral=cfg_mistral,
    gemma2=cfg_gemma2,
    gemma2_nosoftcap=cfg_gemma2_nosoftcap,
    phi3=cfg_phi3,
    mixtral=cfg_mixtral,
    gpt2=cfg_gpt2,
    gpt2_nodrop=cfg_gpt2_nodrop,
)


def dims(cfg):
    g = lambda *names: next((getattr(cfg, n) for n in names if getattr(cfg, n, None) is not None), None)
    h = g("hidden_size", "n_embd")
    a = g("num_attention_heads", "n_head")
    k = g("num_key_value_heads") or a
    hd = getattr(cfg, "head_dim", None) or h // a
    inter = g("intermediate_size", "n_inner") or 4 * h
    return dict(
        model_type=cfg.model_type,
        vocab_size=cfg.vocab_size, hidden_size=h, intermediate_size=inter,
        num_hidden_layers=g("num_hidden_layers", "n_layer"), num_attention_heads=a, num_key_value_heads=k,
        head_dim=hd, tie_word_embeddings=bool(getattr(cfg, "tie_word_embeddings", False)),
        sliding_window=getattr(cfg, "sliding_window", None),
        layer_types=getattr(cfg, "layer_types", None),
        num_local_experts=getattr(cfg, "num_local_experts", None),
        num_experts_per_tok=getattr(cfg, "num_experts_per_tok", None),
        attention_bias=getattr(cfg, "attention_bias", None),
        attn_logit_softcapping=getattr(cfg, "attn_logit_softcapping", None),
        final_logit_softcapping=getattr(cfg, "final_logit_softcapping", None),
        hidden_act=g("hidden_act", "hidden_activation", "activation_function"),
        dropout=dict(resid=getattr(cfg, "resid_pdrop", None), embd=getattr(cfg, "embd_pdrop", None),
                     attn=getattr(cfg, "attn_pdrop", getattr(cfg, "attention_dropout", None))),
        use_cache_default=getattr(cfg, "use_cache", None),
    )


def build(arch, dtype, attn, experts_impl=None, seed=0):
    torch.manual_seed(seed)
    cfg = ARCHS[arch]()
    kw = dict(attn_implementation=attn)
    if experts_impl:
        kw["experts_implementation"] = experts_impl
    model = AutoModelForCausalLM.from_config(cfg, **kw)
    model.to(dtype)
    return model, cfg


DT = {"bf16": torch.bfloat16, "fp32": torch.float32}

# --------------------------------------------------------------------------------------------
# Allocation timeline from the profiler
# --------------------------------------------------------------------------------------------


def walk_tree(prof):
    """Return (allocs, marks): allocs = [(t, size, ptr, op_name, module_name)], marks = {name: t}."""
    allocs, marks = [], {}

    def rec(n, op, mod):
        name = n.name
        if n.tag == _EventType.Allocation:
            f = n.extra_fields
            if str(f.device) == "cpu":
                allocs.append((n.start_time_ns, f.alloc_size, f.ptr, op, mod))
            return
        if name.startswith("MARK::"):
            marks[name[6:]] = n.start_time_ns
        if name.startswith("MOD::"):
            mod = name[5:]
        elif n.tag == _EventType.TorchOp:
            op = name
        for ch in n.children:
            rec(ch, op, mod)

    for r in prof.profiler.kineto_results.experimental_event_tree():
        rec(r, None, None)
    allocs.sort(key=lambda x: x[0])
    return allocs, marks


def unfreed_at(allocs, t1):
    """Allocations made before t1 and not freed by t1, grouped by (module, op) -> [count, bytes]."""
    live = {}
    for t, sz, ptr, op, mod in allocs:
        if t > t1:
            break
        if sz > 0:
            live[ptr] = (sz, op, mod)
        else:
            live.pop(ptr, None)
    groups = defaultdict(lambda: [0, 0])
    for sz, op, mod in live.values():
        g = groups[f"{mod}|{op}"]
        g[0] += 1
        g[1] += sz
    return dict(sorted(groups.items()))


def mark(name):
    with torch.profiler.record_function("MARK::" + name):
        pass


def live_stats(allocs, t0, t1):
    """Live bytes (relative to window start) at t1, and the peak within [t0, t1] with where it happened."""
    live, peak, where = 0, 0, None
    for t, sz, ptr, op, mod in allocs:
        if t > t1:
            break
        live += sz
        if t >= t0 and live > peak:
            peak, where = live, (op, mod)
    return live, peak, where


class ModuleScope:
    """Forward pre/post hooks on every module: keeps a module-name stack and (optionally) opens a
    profiler record_function per module so allocations can be attributed to modules."""

    def __init__(self, model, with_rf):
        self.stack, self.handles, self.with_rf, self.active = [], [], with_rf, True
        self.rfs = []
        for name, m in model.named_modules():
            self.handles.append(m.register_forward_pre_hook(self._pre(name)))
            self.handles.append(m.register_forward_hook(self._post(name)))

    def _pre(self, name):
        def f(mod, args):
            if not self.active:
                return
            self.stack.append(name)
            if self.with_rf:
                rf = torch.profiler.record_function("MOD::" + (name or "<root>"))
                rf.__enter__()
                self.rfs.append(rf)
        return f

    def _post(self, name):
        def f(mod, args, out):
            if not self.active:
                return
            self.stack.pop()
            if self.with_rf:
                self.rfs.pop().__exit__(None, None, None)
        return f

    def current(self):
        return self.stack[-1] if self.stack else ""

    def remove(self):
        for h in self.handles:
            h.remove()


# --------------------------------------------------------------------------------------------
# Attribution helpers
# --------------------------------------------------------------------------------------------
LAYER_RE = re.compile(r"(?:^|\.)(?:layers|h)\.(\d+)(?:\.|$)")


def category(modname):
    m = LAYER_RE.search(modname)
    if m:
        return ("layer", int(m.group(1)))
    if re.search(r"(embed_tokens|\.wte|\.wpe|^transformer\.drop$)", modname):
        return ("embedding", None)
    if modname in ("model.norm", "transformer.ln_f"):
        return ("final_norm", None)
    if modname == "" or modname.startswith("lm_head"):
        return ("lm_head_and_loss", None)
    return ("other", None)


def sub_in_layer(modname):
    m = LAYER_RE.search(modname)
    return modname[m.end():] if m and m.end() < len(modname) else "<layer>"


def param_storage_ptrs(model):
    ptrs = set()
    for p in list(model.parameters()) + list(model.buffers()):
        if p.untyped_storage().nbytes() > 0:
            ptrs.add(p.untyped_storage().data_ptr())
    return ptrs


def graph_saved_ops(root):
    """ptr -> list of 'NodeName._saved_x' by walking the autograd graph (only without checkpointing)."""
    res = defaultdict(list)
    seen, todo = set(), [root]
    while todo:
        n = todo.pop()
        if n is None or n in seen:
            continue
        seen.add(n)
        nm = type(n).__name__ if not hasattr(n, "name") else n.name()
        for attr in dir(n):
            if not attr.startswith("_saved_"):
                continue
            try:
                v = getattr(n, attr)
            except Exception:
                continue
            vals = v if isinstance(v, (tuple, list)) else [v]
            for t in vals:
                if isinstance(t, torch.Tensor) and t.untyped_storage().nbytes() > 0:
                    res[t.untyped_storage().data_ptr()].append(f"{nm}.{attr[7:]}")
        if hasattr(n, "saved_tensors"):
            try:
                for t in n.saved_tensors:
                    if isinstance(t, torch.Tensor) and t.untyped_storage().nbytes() > 0:
                        res[t.untyped_storage().data_ptr()].append(f"{nm}.saved_tensors")
            except Exception:
                pass
        for nxt, _ in n.next_functions:
            todo.append(nxt)
    return res


# --------------------------------------------------------------------------------------------
# Training case
# --------------------------------------------------------------------------------------------


def run_train(arch, dtype, attn, gc_mode, b, s, experts_impl=None, use_cache=None, detail_layers=(0, 1)):
    model, cfg = build(arch, DT[dtype], attn, experts_impl)
    model.train()
    if gc_mode != "off":
        # same as gradient_checkpointing_enable(gradient_checkpointing_kwargs=...), which is a deprecated alias in 5.x
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": gc_mode == "reentrant"})
    pptrs = param_storage_ptrs(model)
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    scope = ModuleScope(model, with_rf=True)
    records = OrderedDict()  # ptr -> dict
    recording = [True]

    def pack(t):
        if recording[0]:
            st = t.untyped_storage()
            ptr, nb = st.data_ptr(), st.nbytes()
            if nb > 0 and ptr not in pptrs:
                mod = scope.current()
                r = records.get(ptr)
                if r is None:
                    records[ptr] = dict(nbytes=nb, shape=list(t.shape), dtype=str(t.dtype).replace("torch.", ""),
                                        module=mod, modules={mod}, n_saves=1)
                else:
                    r["modules"].add(mod)
                    r["n_saves"] += 1
                    r["nbytes"] = max(r["nbytes"], nb)
        return t

    g = torch.Generator().manual_seed(1234)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        mark("start")
        input_ids = torch.randint(3, cfg.vocab_size, (b, s), generator=g)
        labels = input_ids.clone()
        kw = {} if use_cache is None else dict(use_cache=use_cache)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(input_ids=input_ids, labels=labels, **kw)
        recording[0] = False
        scope.active = False
        mark("fwd_end")
        loss = out.loss
        ops = graph_saved_ops(loss.grad_fn) if gc_mode == "off" else {}
        del out, input_ids, labels
        gc.collect()
        mark("alive")
        loss.backward()
        mark("bwd_end")
    scope.remove()
    grad_bytes = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
    del loss
    allocs, marks = walk_tree(prof)
    alive, fpeak, fwhere = live_stats(allocs, marks["start"], marks["alive"])
    _, fpeak, fwhere = live_stats(allocs, marks["start"], marks["fwd_end"])
    _, bpeak, bwhere = live_stats(allocs, marks["alive"], marks["bwd_end"])
    alive_groups = unfreed_at(allocs, marks["alive"])

    # breakdown
    L = dims(cfg)["num_hidden_layers"]
    bd = dict(embedding=0, per_layer=[0] * L, final_norm=0, lm_head_and_loss=0, other=0)
    other_detail, layer_sub = [], [defaultdict(int) for _ in range(L)]
    detail = []
    for ptr, r in records.items():
        cats = {category(m) for m in r["modules"]}
        shared = len(cats) > 1
        cat, idx = category(r["module"])
        item = dict(module=r["module"], shape=r["shape"], dtype=r["dtype"], nbytes=r["nbytes"],
                    ops=sorted(set(ops.get(ptr, [])))[:6], n_saves=r["n_saves"])
        if shared:
            bd["other"] += r["nbytes"]
            item["shared_by"] = sorted(r["modules"])[:8]
            other_detail.append(item)
        elif cat == "layer":
            bd["per_layer"][idx] += r["nbytes"]
            layer_sub[idx][sub_in_layer(r["module"])] += r["nbytes"]
            if idx in detail_layers:
                detail.append(item)
        elif cat == "other":
            bd["other"] += r["nbytes"]
            other_detail.append(item)
        else:
            bd[cat] += r["nbytes"]
            detail.append(item)
    total = sum(r["nbytes"] for r in records.values())
    assert total == bd["embedding"] + sum(bd["per_layer"]) + bd["final_norm"] + bd["lm_head_and_loss"] + bd["other"]
    del model
    gc.collect()
    return dict(
        saved_bytes_total=total,
        breakdown=bd,
        per_layer_by_module=[dict(sorted(d.items())) for d in layer_sub],
        other_detail=other_detail,
        detail=detail,
        alive_after_forward_bytes=alive,
        alive_after_forward_by_module_op=alive_groups,
        forward_peak_bytes=fpeak,
        forward_peak_at=dict(op=fwhere[0], module=fwhere[1]) if fwhere else None,
        backward_peak_bytes=bpeak,
        param_bytes=param_bytes,
        param_grad_bytes=grad_bytes,
    )


# --------------------------------------------------------------------------------------------
# KV cache case
# --------------------------------------------------------------------------------------------


def cache_tensors(cache):
    out = []
    if hasattr(cache, "layers"):
        for i, lay in enumerate(cache.layers):
            for nm in ("keys", "values"):
                t = getattr(lay, nm, None)
                if isinstance(t, torch.Tensor):
                    out.append((i, type(lay).__name__, nm, t))
    else:  # legacy tuple
        for i, (k, v) in enumerate(cache):
            out += [(i, "tuple", "keys", k), (i, "tuple", "values", v)]
    return out


def cache_bytes(cache):
    """(storage bytes deduplicated, logical bytes = numel*element_size of the views, per-layer info)."""
    seen, total, logical, layers = set(), 0, 0, []
    for i, cls, nm, t in cache_tensors(cache):
        st = t.untyped_storage()
        logical += t.numel() * t.element_size()
        if st.data_ptr() not in seen:
            seen.add(st.data_ptr())
            total += st.nbytes()
        if nm == "keys":
            layers.append(dict(layer=i, cls=cls, key_shape=list(t.shape), dtype=str(t.dtype).replace("torch.", ""),
                               key_storage_bytes=st.nbytes()))
    return total, logical, layers


def run_kv(arch, dtype, attn, b, s):
    """Prefill b x s tokens with use_cache=True, then decode 1 and 2 more tokens with the cache."""
    model, cfg = build(arch, DT[dtype], attn)
    model.eval()
    g = torch.Generator().manual_seed(1234)
    ids = torch.randint(3, cfg.vocab_size, (b, s), generator=g)
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True)
        cache = getattr(out, "cache", None)
        if cache is None:
            cache = out.past_key_values
        total, logical, layers = cache_bytes(cache)
        res = dict(kv_cache_bytes=total, kv_logical_bytes=logical, cache_class=type(cache).__name__,
                   cache_layers=layers)
        for step in (1, 2):
            nxt = out.logits[:, -1:].argmax(-1)
            out = model(input_ids=nxt, cache=cache, use_cache=True)
            cache = getattr(out, "cache", None) or out.past_key_values
            t2, l2, lay2 = cache_bytes(cache)
            res[f"after_{step}_decode"] = dict(kv_cache_bytes=t2, kv_logical_bytes=l2,
                                               key_shapes=[x["key_shape"] for x in lay2])
    return res


# --------------------------------------------------------------------------------------------
# Prefill case
# --------------------------------------------------------------------------------------------


def run_prefill(arch, dtype, attn, b, s, logits_to_keep, use_cache):
    model, cfg = build(arch, DT[dtype], attn)
    model.eval()
    g = torch.Generator().manual_seed(1234)
    ids = torch.randint(3, cfg.vocab_size, (b, s), generator=g)
    scope = ModuleScope(model, with_rf=True)
    kw = dict(input_ids=ids, use_cache=use_cache)
    if logits_to_keep:
        kw["logits_to_keep"] = logits_to_keep
    with torch.no_grad():
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            mark("start")
            out = model(**kw)
            mark("fwd_end")
    scope.remove()
    allocs, marks = walk_tree(prof)
    end_live, peak, where = live_stats(allocs, marks["start"], marks["fwd_end"])
    kv = 0
    if use_cache:
        c = getattr(out, "cache", None) or out.past_key_values
        kv = sum(t.untyped_storage().nbytes() for _, _, _, t in cache_tensors(c))
    res = dict(peak_bytes=peak, peak_working_bytes=None if use_cache else peak,
               peak_including_kv_bytes=peak if use_cache else None,
               peak_at=dict(op=where[0], module=where[1]) if where else None,
               end_live_bytes=end_live, logits_bytes=out.logits.untyped_storage().nbytes(),
               logits_shape=list(out.logits.shape), kv_bytes_in_output=kv)
    del out, model
    gc.collect()
    return res


# --------------------------------------------------------------------------------------------
# Grid
# --------------------------------------------------------------------------------------------
FULL_BS = [(b, s) for b in (1, 2, 3) for s in (16, 64, 128, 200)]
SUB_BS = [(1, 64), (2, 64), (2, 128), (3, 200), (3, 77)]
GC_BS = [(2, 64), (3, 77)]


def grid():
    cases = []
    T = lambda **k: cases.append(dict(kind="train", **k))
    for dt in ("bf16", "fp32"):
        for attn in ("sdpa", "eager"):
            bs_list = FULL_BS if (dt == "bf16" or attn == "sdpa") else SUB_BS
            for b, s in bs_list:
                T(arch="llama_gqa", dtype=dt, attn=attn, gc="off", b=b, s=s)
    for arch in ("llama_gqa_odd", "llama_v5k_tied", "llama_mha", "qwen2", "mistral", "phi3", "mixtral",
                 "gpt2", "gpt2_nodrop", "gemma2", "gemma2_nosoftcap"):
        for dt in ("bf16", "fp32"):
            for attn in ("sdpa", "eager"):
                if arch.startswith("gemma2") and attn == "sdpa":
                    continue  # Gemma2 has _supports_sdpa = False in this version (ValueError)
                if arch in ("gpt2_nodrop", "llama_v5k_tied", "llama_gqa_odd") and dt == "fp32" and attn == "eager":
                    continue
                for b, s in SUB_BS:
                    T(arch=arch, dtype=dt, attn=attn, gc="off", b=b, s=s)
    # Mistral below / at / above the sliding window (64), to see when the mask is materialized
    for attn in ("sdpa", "eager"):
        for b, s in ((1, 16), (2, 40), (3, 63), (1, 128), (3, 128)):
            T(arch="mistral", dtype="bf16", attn=attn, gc="off", b=b, s=s)
    # MoE with the per-expert python loop instead of the default grouped_mm
    for dt in ("bf16", "fp32"):
        for b, s in SUB_BS:
            T(arch="mixtral", dtype=dt, attn="sdpa", gc="off", b=b, s=s, experts_impl="eager")
    # training with use_cache=False (config default is use_cache=True, which makes DynamicCache copy k/v)
    for arch in ("llama_gqa", "phi3", "gpt2", "gpt2_nodrop"):
        for attn in ("sdpa", "eager"):
            for b, s in SUB_BS:
                T(arch=arch, dtype="bf16", attn=attn, gc="off", b=b, s=s, use_cache=False)
    for arch in ("llama_gqa", "llama_gqa_odd", "qwen2", "mistral", "phi3", "mixtral", "gpt2", "gemma2"):
        attns = ("eager",) if arch == "gemma2" else ("sdpa", "eager")
        for attn in attns:
            for gcm in ("nonreentrant", "reentrant"):
                for dt in ("bf16", "fp32"):
                    if dt == "fp32" and attn == "eager":
                        continue
                    for b, s in GC_BS:
                        T(arch=arch, dtype=dt, attn=attn, gc=gcm, b=b, s=s)
    for arch, attn in (("llama_gqa", "sdpa"), ("llama_gqa_odd", "eager"), ("mistral", "sdpa"), ("mistral", "eager"),
                       ("gemma2", "eager"), ("gpt2", "sdpa"), ("qwen2", "sdpa"), ("phi3", "sdpa"), ("mixtral", "sdpa")):
        for dt in ("bf16", "fp32"):
            for b, s in ((1, 16), (2, 40), (3, 77), (2, 200)):
                cases.append(dict(kind="kv", arch=arch, dtype=dt, attn=attn, b=b, s=s))
    for arch, attn in (("llama_gqa", "sdpa"), ("llama_gqa", "eager"), ("llama_gqa_odd", "sdpa"), ("mistral", "sdpa"),
                       ("gemma2", "eager"), ("gpt2", "sdpa"), ("mixtral", "sdpa")):
        for dt in ("bf16",) if arch != "llama_gqa" else ("bf16", "fp32"):
            for b, s in ((1, 64), (2, 128), (3, 200)):
                for ltk in (0, 1):
                    for uc in (False, True):
                        cases.append(dict(kind="prefill", arch=arch, dtype=dt, attn=attn, b=b, s=s,
                                          logits_to_keep=ltk, use_cache=uc))
    for c in cases:
        c["id"] = "|".join(str(c[k]) for k in c if k != "kind") + "|" + c["kind"]
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="measurements.json")
    ap.add_argument("--only", default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    t0 = time.time()
    cases = [c for c in grid() if not args.only or args.only in c["id"]]
    for i, c in enumerate(cases):
        arch, cfg = c["arch"], ARCHS[c["arch"]]()
        base = dict(case_id=c["id"], kind=c["kind"], architecture=arch, config=dims(cfg), dtype=c["dtype"],
                    attn_implementation=c["attn"], batch=c["b"], seq=c["s"])
        try:
            if c["kind"] == "train":
                base.update(checkpointing=c["gc"], experts_implementation=c.get("experts_impl") or
                            ("grouped_mm(default)" if "num_local_experts" in cfg.to_dict() else None))
                base.update(use_cache=c.get("use_cache", "config default (True)"))
                base.update(run_train(arch, c["dtype"], c["attn"], c["gc"], c["b"], c["s"], c.get("experts_impl"),
                                      c.get("use_cache")))
            elif c["kind"] == "kv":
                base.update(run_kv(arch, c["dtype"], c["attn"], c["b"], c["s"]))
            else:
                base.update(logits_to_keep=c["logits_to_keep"], use_cache=c["use_cache"])
                base.update(run_prefill(arch, c["dtype"], c["attn"], c["b"], c["s"], c["logits_to_keep"], c["use_cache"]))
        except Exception as e:  # recorded, not hidden
            base["error"] = f"{type(e).__name__}: {e}"
        results.append(base)
        print(f"[{i + 1}/{len(cases)} {time.time() - t0:.0f}s] {c['id']} "
              f"{base.get('saved_bytes_total', base.get('kv_cache_bytes', base.get('peak_bytes', base.get('error'))))}",
              file=sys.stderr, flush=True)
    meta = dict(torch=torch.__version__, transformers=transformers.__version__, python=sys.version.split()[0],
                device="cpu", generated=time.strftime("%Y-%m-%d"))
    with open(args.out, "w") as f:  # one case per line: compact but still line-diffable
        f.write('{"meta": ' + json.dumps(meta) + ',\n "cases": [\n')
        f.write(",\n".join(json.dumps(r, separators=(",", ":")) for r in results))
        f.write("\n]}\n")


if __name__ == "__main__":
    main()
