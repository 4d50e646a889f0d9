#!/usr/bin/env python3
"""LoRA (PEFT) calibration: bytes autograd saves for backward in a training forward pass.

Companion of ../measure.py (full fine-tuning).  Same quantity, same counting, but the model is
wrapped with PEFT LoRA (frozen base weights, trainable lora_A / lora_B):

    model = AutoModelForCausalLM.from_config(cfg, attn_implementation=attn).to(dtype)
    [model.activation_checkpointing_enable(...)]            # only for checkpointing cases, BEFORE peft
    model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2r, lora_dropout=p, target_modules=[...]),
                           autocast_adapter_dtype=True|False)   # True is PEFT's default
    model.train(); loss = model(input_ids=ids, labels=ids).loss
    [the forward inside torch.autocast("cpu", dtype=torch.bfloat16) for the "amp=bf16" cases]

Versions this was written against and run with (recorded again in the JSON "meta"):
    Python 3.11.7, torch 2.15.0+cu132 (run on CPU only), transformers 5.24.0, peft 0.21.2

How to run (needs torch, transformers, peft from PyPI; no Hub access; ../measure.py is imported
for the model configs and the profiler helpers):
    /work/venv-calib/bin/pip install peft
    /work/venv-calib/bin/python measure_lora.py --out lora_measurements.json
Options: --only SUBSTRING (run only case ids containing it), --threads N (default 1).
About 5 minutes on one core (555 cases).  check_lora_formulas.py (plain python3) holds the formulas and checks
every case; findings.md is the write-up.

Deterministic: tiny random-weight models from fixed configs with fixed seeds (torch.manual_seed(0)
before building the model, which also seeds the LoRA init), inputs from a seeded generator; every
number reported is a byte count that does not depend on the random values.  Two full runs gave
byte-identical JSON apart from "generated".

What is counted (identical to ../measure.py, see its docstring and ../findings.md)
---------------------------------------------------------------------------------
* saved_bytes_total: every tensor autograd saves, seen by a torch.autograd.graph.saved_tensors_hooks
  pack hook; each storage counted once (key untyped_storage().data_ptr(), size
  untyped_storage().nbytes()); storages of parameters and buffers (frozen base weights AND the
  trainable LoRA weights) and anything sharing them are excluded.
* breakdown: embedding / per_layer[i] / final_norm / lm_head_and_loss / other.  A storage goes to
  the module that saved it first (forward pre/post hooks keep a module stack; module names are
  given without PEFT's "base_model.model." prefix).  "other" holds the RoPE cos/sin (storages
  returned by model.rotary_emb, recognised by pointer, so they land in "other" even when only one
  decoder layer saves them) and anything saved by two different layers.
* per_layer_by_module: the same split by sub-module inside each layer, e.g. "self_attn",
  "self_attn.q_proj.lora_A.default" (the input lora_A saves), "self_attn.q_proj.lora_B.default"
  (the lora_A output lora_B saves), "mlp.down_proj.lora_dropout.default" (dropout mask).
  per_layer_lora: the part of each layer saved by LoRA sub-modules (lora_A/lora_B/lora_dropout).
* detail: every storage of layers 0 and 1 and outside the layers, with shape, dtype and the
  autograd nodes that hold it ("MmBackward0.self", ...; graph walk, only without checkpointing).
* alive_after_forward_bytes / forward_peak_bytes: CPU allocator ground truth via
  torch.profiler(profile_memory=True), as in ../measure.py: what is still allocated after the
  forward once every Python reference except the loss is dropped (so: saved tensors + 4-byte loss +
  8-byte wrapped Python scalars + under checkpointing the RNG state and closure kwargs), and the
  largest live total during the forward.  Parameters are allocated before the window.
* embedding_output_requires_grad: whether the embedding output required grad, i.e. whether
  model.enable_input_require_grads() was in effect.  PEFT calls it itself inside get_peft_model
  when the base model already has checkpointing enabled (peft_model.py:
  `if getattr(model, "is_gradient_checkpointing", True): prepare_model_for_gradient_checkpointing`),
  and the "inreq" cases call it explicitly without checkpointing.
"""
import argparse
import gc
import json
import os
import sys
import time
from collections import OrderedDict, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # ../measure.py

import torch  # noqa: E402
import transformers  # noqa: E402
import peft  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

import measure as M  # noqa: E402

transformers.logging.set_verbosity_error()
import warnings  # noqa: E402

warnings.filterwarnings("ignore", category=FutureWarning)

TARGETS = OrderedDict(
    all7=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    qv=["q_proj", "v_proj"],
    attn4=["q_proj", "k_proj", "v_proj", "o_proj"],
    mlp3=["gate_proj", "up_proj", "down_proj"],
)
PREFIX = "base_model.model."


def strip(name):
    if name.startswith(PREFIX):
        return name[len(PREFIX):]
    if name in ("base_model", "base_model.model"):
        return ""
    return name


def category(name):
    m = M.LAYER_RE.search(name)
    if m:
        return ("layer", int(m.group(1)))
    if "embed_tokens" in name:
        return ("embedding", None)
    if name == "model.norm":
        return ("final_norm", None)
    if name == "" or name.startswith("lm_head"):
        return ("lm_head_and_loss", None)
    return ("other", None)


def run_lora(c):
    arch, dtype, attn = c["arch"], c["dtype"], c["attn"]
    b, s, gc_mode = c["b"], c["s"], c["gc"]
    model, cfg = M.build(arch, M.DT[dtype], attn)  # torch.manual_seed(0) inside
    if gc_mode in ("nonreentrant", "reentrant"):
        # before get_peft_model, as in the PEFT/TRL recipes -> PEFT calls enable_input_require_grads()
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": gc_mode == "reentrant"})
    lcfg = LoraConfig(r=c["r"], lora_alpha=2 * c["r"], lora_dropout=c["dropout"], target_modules=TARGETS[c["targets"]],
                      bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(model, lcfg, autocast_adapter_dtype=c["autocast"])
    if gc_mode == "nonreentrant_after_peft":
        # checkpointing switched on after wrapping: PEFT did not add the input-require-grads hook
        model.base_model.model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    if c.get("inreq"):
        model.enable_input_require_grads()
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    adapter_dtype = str(trainable[0].dtype).replace("torch.", "")
    trainable_bytes = sum(p.numel() * p.element_size() for p in trainable)
    n_adapted = sum(1 for n, mod in model.named_modules() if n.endswith(".lora_A"))
    pptrs = M.param_storage_ptrs(model)
    scope = M.ModuleScope(model, with_rf=True)
    rope_ptrs, emb_rg = set(), []
    hooks = []
    for n, mod in model.named_modules():
        if n.endswith("rotary_emb"):
            hooks.append(mod.register_forward_hook(
                lambda m, a, out: rope_ptrs.update(t.untyped_storage().data_ptr() for t in out)))
        if n.endswith("embed_tokens"):
            hooks.append(mod.register_forward_hook(lambda m, a, out: emb_rg.append(bool(out.requires_grad))))
    records = OrderedDict()
    recording = [True]

    def pack(t):
        if recording[0]:
            st = t.untyped_storage()
            ptr, nb = st.data_ptr(), st.nbytes()
            if nb > 0 and ptr not in pptrs:
                mod = strip(scope.current())
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
        M.mark("start")
        input_ids = torch.randint(3, cfg.vocab_size, (b, s), generator=g)
        labels = input_ids.clone()
        amp = torch.autocast("cpu", dtype=torch.bfloat16) if c.get("amp") else torch.autocast("cpu", enabled=False)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), amp:
            out = model(input_ids=input_ids, labels=labels)
        recording[0] = False
        scope.active = False
        M.mark("fwd_end")
        loss = out.loss
        ops = M.graph_saved_ops(loss.grad_fn) if gc_mode == "off" else {}
        del out, input_ids, labels
        gc.collect()
        M.mark("alive")
        loss.backward()
        M.mark("bwd_end")
    scope.remove()
    for hnd in hooks:
        hnd.remove()
    lora_grads = [p.grad is not None for p in trainable]
    grad_bytes = sum(p.grad.numel() * p.grad.element_size() for p in trainable if p.grad is not None)
    del loss
    allocs, marks = M.walk_tree(prof)
    alive, _, _ = M.live_stats(allocs, marks["start"], marks["alive"])
    _, fpeak, fwhere = M.live_stats(allocs, marks["start"], marks["fwd_end"])

    L = cfg.num_hidden_layers
    bd = dict(embedding=0, per_layer=[0] * L, final_norm=0, lm_head_and_loss=0, other=0)
    layer_sub = [defaultdict(int) for _ in range(L)]
    layer_lora = [0] * L
    detail = []
    for ptr, r in records.items():
        cats = {category(m) for m in r["modules"]}
        cat, idx = category(r["module"])
        item = dict(module=r["module"], shape=r["shape"], dtype=r["dtype"], nbytes=r["nbytes"],
                    ops=sorted(set(ops.get(ptr, [])))[:6], n_saves=r["n_saves"])
        if ptr in rope_ptrs or len(cats) > 1 or cat == "other":
            bd["other"] += r["nbytes"]
            item["category"] = "other(rope)" if ptr in rope_ptrs else "other"
            detail.append(item)
        elif cat == "layer":
            bd["per_layer"][idx] += r["nbytes"]
            layer_sub[idx][M.sub_in_layer(r["module"])] += r["nbytes"]
            if ".lora_" in r["module"]:
                layer_lora[idx] += r["nbytes"]
            if idx in (0, 1):
                detail.append(item)
        else:
            bd[cat] += r["nbytes"]
            detail.append(item)
    total = sum(r["nbytes"] for r in records.values())
    assert total == bd["embedding"] + sum(bd["per_layer"]) + bd["final_norm"] + bd["lm_head_and_loss"] + bd["other"]
    del model
    gc.collect()
    return dict(
        adapter_dtype=adapter_dtype,
        n_adapted_modules=n_adapted,
        trainable_param_bytes=trainable_bytes,
        lora_params_with_grad=f"{sum(lora_grads)}/{len(lora_grads)}",
        lora_grad_bytes=grad_bytes,
        embedding_output_requires_grad=emb_rg[0] if emb_rg else None,
        saved_bytes_total=total,
        breakdown=bd,
        per_layer_lora=layer_lora,
        per_layer_by_module=[dict(sorted(d.items())) for d in layer_sub],
        detail=detail,
        alive_after_forward_bytes=alive,
        forward_peak_bytes=fpeak,
        forward_peak_at=dict(op=fwhere[0], module=strip(fwhere[1] or "")) if fwhere else None,
    )


# --------------------------------------------------------------------------------------------
# Grid
# --------------------------------------------------------------------------------------------
FULL_BS = [(b, s) for b in (1, 2) for s in (16, 64, 77, 128)]
ODD_BS = [(1, 77), (2, 64), (2, 128)]
SMALL_BS = [(2, 64), (1, 77)]


def grid():
    cases = []

    def C(arch, dtype, attn, b, s, targets, r, gc="off", dropout=0.0, autocast=True, inreq=False, amp=False):
        cases.append(dict(arch=arch, dtype=dtype, attn=attn, b=b, s=s, targets=targets, r=r, gc=gc,
                          dropout=dropout, autocast=autocast, inreq=inreq, amp=amp))

    # A. main grid: PEFT defaults (autocast_adapter_dtype=True), no dropout, no checkpointing
    for arch, bs_list in (("llama_gqa", FULL_BS), ("llama_gqa_odd", ODD_BS)):
        for dt in ("bf16", "fp32"):
            for attn in ("sdpa", "eager"):
                for tg in TARGETS:
                    for r in (4, 16):
                        for b, s in bs_list:
                            C(arch, dt, attn, b, s, tg, r)
    # B. bf16 adapters (autocast_adapter_dtype=False): adapter dtype == model dtype
    for arch in ("llama_gqa", "llama_gqa_odd"):
        for attn in ("sdpa", "eager"):
            for tg in TARGETS:
                for b, s in SMALL_BS:
                    C(arch, "bf16", attn, b, s, tg, 16, autocast=False)
    # C. lora_dropout = 0.05
    for dt in ("bf16", "fp32"):
        for attn in ("sdpa", "eager"):
            for tg in TARGETS:
                for b, s in SMALL_BS:
                    C("llama_gqa", dt, attn, b, s, tg, 16, dropout=0.05)
    for tg in ("all7", "qv"):
        for b, s in SMALL_BS:
            C("llama_gqa", "bf16", "sdpa", b, s, tg, 16, dropout=0.05, autocast=False)
    C("llama_gqa_odd", "bf16", "sdpa", 2, 64, "all7", 4, dropout=0.05)
    # D. model.enable_input_require_grads() without checkpointing (embedding output requires grad)
    for dt in ("bf16", "fp32"):
        for attn in ("sdpa", "eager"):
            for tg in TARGETS:
                C("llama_gqa", dt, attn, 2, 64, tg, 16, inreq=True)
    # E. gradient checkpointing (enabled before get_peft_model -> PEFT enables input grads)
    for arch in ("llama_gqa", "llama_gqa_odd"):
        for dt, attn in (("bf16", "sdpa"), ("fp32", "sdpa"), ("bf16", "eager")):
            for gcm in ("nonreentrant", "reentrant"):
                for tg in ("all7", "qv", "mlp3"):
                    for b, s in SMALL_BS:
                        C(arch, dt, attn, b, s, tg, 16, gc=gcm)
    for tg in ("all7", "mlp3"):
        C("llama_gqa", "bf16", "sdpa", 2, 64, tg, 16, gc="nonreentrant_after_peft")
    # F. Mixtral (MoE, default grouped_mm experts), LoRA on attention only
    for dt in ("bf16", "fp32"):
        for attn in ("sdpa", "eager"):
            for tg in ("attn4", "qv"):
                for b, s in ODD_BS:
                    C("mixtral", dt, attn, b, s, tg, 16)
    for gcm in ("nonreentrant", "reentrant"):
        C("mixtral", "bf16", "sdpa", 2, 64, "attn4", 16, gc=gcm)
    # G. forward under torch.autocast("cpu", bfloat16) (what Trainer/accelerate bf16 mixed precision
    #    does), bf16 model with PEFT's default fp32 adapters
    for attn in ("sdpa", "eager"):
        for tg in TARGETS:
            for b, s in SMALL_BS:
                C("llama_gqa", "bf16", attn, b, s, tg, 16, amp=True)
    C("llama_gqa_odd", "bf16", "sdpa", 2, 64, "all7", 4, amp=True)
    C("llama_gqa", "bf16", "sdpa", 2, 64, "all7", 16, amp=True, dropout=0.05)
    for c in cases:
        c["id"] = "|".join(f"{k}={c[k]}" for k in ("arch", "dtype", "attn", "gc", "b", "s", "targets", "r",
                                                   "dropout", "autocast", "inreq")) + ("|amp=bf16" if c["amp"] else "")
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "lora_measurements.json"))
    ap.add_argument("--only", default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cases = [c for c in grid() if not args.only or args.only in c["id"]]
    results, t0 = [], time.time()
    for i, c in enumerate(cases):
        cfg = M.ARCHS[c["arch"]]()
        base = dict(case_id=c["id"], architecture=c["arch"], config=M.dims(cfg), dtype=c["dtype"],
                    attn_implementation=c["attn"], checkpointing=c["gc"], batch=c["b"], seq=c["s"],
                    lora=dict(r=c["r"], lora_alpha=2 * c["r"], lora_dropout=c["dropout"], targets=c["targets"],
                              target_modules=TARGETS[c["targets"]], autocast_adapter_dtype=c["autocast"]),
                    enable_input_require_grads_called=c["inreq"],
                    autocast_forward="bfloat16" if c["amp"] else None,
                    experts_implementation="grouped_mm(default)" if c["arch"] == "mixtral" else None,
                    use_cache="config default (True)")
        try:
            base.update(run_lora(c))
        except Exception as e:  # recorded, not hidden
            base["error"] = f"{type(e).__name__}: {e}"
        results.append(base)
        print(f"[{i + 1}/{len(cases)} {time.time() - t0:.0f}s] {c['id']} {base.get('saved_bytes_total', base.get('error'))}",
              file=sys.stderr, flush=True)
    meta = dict(torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__,
                python=sys.version.split()[0], device="cpu", threads=args.threads,
                generated=time.strftime("%Y-%m-%d"))
    with open(args.out, "w") as f:
        f.write('{"meta": ' + json.dumps(meta) + ',\n "cases": [\n')
        f.write(",\n".join(json.dumps(r, separators=(",", ":")) for r in results))
        f.write("\n]}\n")


if __name__ == "__main__":
    main()
