#!/usr/bin/env python3
"""LoRA (PEFT) on mixture-of-experts models: what PEFT adapts and what autograd saves.

Companion of measure_lora.py (same counting: saved_tensors_hooks, each storage once, storages of
parameters -- frozen base and LoRA -- excluded; ../measure.py helpers).  For tiny random configs of
mixtral, qwen3_moe, qwen2_moe (shared expert) and deepseek_v3 (MLA, with and without q_lora_rank)
it records, for each target style:

  * all-linear       LoraConfig(target_modules="all-linear")
  * plan             target_modules = the plan names (q/k/v/o/gate/up/down, + the MLA names)
  * params           target_parameters = ["experts.gate_up_proj", "experts.down_proj"] (fused experts)
  * plan+params      both (what plan's gate_proj/up_proj/down_proj mean on an MoE model)
  * attn             attention projections only
  ...

the adapted module/parameter names, the exact trainable-parameter count (sum of numel of
requires_grad parameters) and the saved-for-backward bytes (total and per layer), plus the same
model fully trained (no PEFT) for the reference.  bf16 base with PEFT's default fp32 adapters
(autocast_adapter_dtype=True) and bf16 adapters (False); sdpa; checkpointing off.

Run: /work/venv-calib/bin/python measure_lora_experts.py --out lora_experts_measurements.json
(torch 2.15 CPU, transformers 5.24, peft 0.21.2; one thread; about 2.5 minutes).
"""
import argparse
import gc
import json
import os
import sys
import time
from collections import OrderedDict, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import torch  # noqa: E402
import transformers  # noqa: E402
import peft  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from transformers import AutoConfig, AutoModelForCausalLM  # noqa: E402

import measure as M  # noqa: E402

transformers.logging.set_verbosity_error()
import warnings  # noqa: E402

warnings.filterwarnings("ignore")

COMMON = dict(vocab_size=1000, max_position_embeddings=512, bos_token_id=1, eos_token_id=2, pad_token_id=0,
              tie_word_embeddings=False)

# HF config dicts (what the Swift fixture stores; AutoConfig.for_model builds them)
CONFIGS = OrderedDict(
    mixtral=dict(model_type="mixtral", hidden_size=128, intermediate_size=224, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
                 sliding_window=None, output_router_logits=False, **COMMON),
    qwen3_moe=dict(model_type="qwen3_moe", hidden_size=128, intermediate_size=256, moe_intermediate_size=96,
                   num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                   num_experts=4, num_experts_per_tok=2, decoder_sparse_step=1, mlp_only_layers=[0],
                   norm_topk_prob=True, output_router_logits=False, **COMMON),
    qwen2_moe=dict(model_type="qwen2_moe", hidden_size=128, intermediate_size=256, moe_intermediate_size=96,
                   shared_expert_intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, num_experts=4, num_experts_per_tok=2, decoder_sparse_step=1,
                   mlp_only_layers=[], use_sliding_window=False, output_router_logits=False, **COMMON),
    deepseek_v3=dict(model_type="deepseek_v3", hidden_size=128, intermediate_size=256, moe_intermediate_size=64,
                     num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, q_lora_rank=48,
                     kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16,
                     n_routed_experts=4, num_experts_per_tok=2, n_shared_experts=1, first_k_dense_replace=1,
                     n_group=1, topk_group=1, num_nextn_predict_layers=0, rope_scaling=None, **COMMON),
    deepseek_v3_noqlora=dict(model_type="deepseek_v3", hidden_size=128, intermediate_size=256,
                             moe_intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                             num_key_value_heads=4, q_lora_rank=None, kv_lora_rank=32, qk_nope_head_dim=16,
                             qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=4, num_experts_per_tok=2,
                             n_shared_experts=2, first_k_dense_replace=1, n_group=1, topk_group=1,
                             num_nextn_predict_layers=0, rope_scaling=None, **COMMON),
)

PLAN7 = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
MLA = ["q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj"]
EXPERT_PARAMS = ["experts.gate_up_proj", "experts.down_proj"]
STYLES = OrderedDict(
    all_linear=dict(target_modules="all-linear"),
    plan7=dict(target_modules=PLAN7),
    plan7_mla=dict(target_modules=PLAN7 + MLA),
    params=dict(target_parameters=EXPERT_PARAMS),
    plan7_params=dict(target_modules=PLAN7 + MLA, target_parameters=EXPERT_PARAMS),
    attn=dict(target_modules=["q_proj", "k_proj", "v_proj", "o_proj"] + MLA),
    gate_up_param=dict(target_parameters=["experts.gate_up_proj"]),
    # Mixtral's v4 expert names, which PEFT maps onto the fused experts (gate_up_proj at rank 2r)
    plan_w=dict(target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "w1", "w2", "w3"]),
    down_param=dict(target_parameters=["experts.down_proj"]),
)


def build(name, dtype):
    d = dict(CONFIGS[name])
    cfg = AutoConfig.for_model(d.pop("model_type"), **d)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa")
    model.to(dtype)
    return model, cfg


def run(name, style, dtype, b, s, r, autocast):
    model, cfg = build(name, M.DT[dtype])
    if style is None:
        trainable_names = None
    else:
        kw = dict(STYLES[style])
        model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0, bias="none",
                                                 task_type="CAUSAL_LM", **kw), autocast_adapter_dtype=autocast)
    model.train()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    res = dict(trainable_params=sum(p.numel() for _, p in trainable),
               trainable_bytes=sum(p.numel() * p.element_size() for _, p in trainable))
    if style is not None:
        adapted = sorted({n.replace("base_model.model.", "").split(".lora_A")[0]
                          for n, _ in trainable if ".lora_A" in n})
        # collapse layer indices to show the kinds
        import re
        res["adapted"] = sorted({re.sub(r"layers\.\d+\.", "layers.N.", a) for a in adapted})
        res["adapted_layer0"] = [a for a in adapted if ".layers.0." in a]
        res["adapter_dtype"] = str(trainable[0][1].dtype).replace("torch.", "") if trainable else None
        res["lora_shapes_layer_last"] = {n.replace("base_model.model.", ""): list(p.shape) for n, p in trainable
                                         if f".layers.{cfg.num_hidden_layers - 1}." in n}
    pptrs = M.param_storage_ptrs(model)
    scope = M.ModuleScope(model, with_rf=True)
    records = OrderedDict()

    def pack(t):
        st = t.untyped_storage()
        ptr, nb = st.data_ptr(), st.nbytes()
        if nb > 0 and ptr not in pptrs:
            mod = scope.current().replace("base_model.model.", "")
            rr = records.get(ptr)
            if rr is None:
                records[ptr] = dict(nbytes=nb, module=mod, shape=list(t.shape), dtype=str(t.dtype))
            else:
                rr["nbytes"] = max(rr["nbytes"], nb)
        return t

    g = torch.Generator().manual_seed(1234)
    ids = torch.randint(3, cfg.vocab_size, (b, s), generator=g)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(input_ids=ids, labels=ids)
    scope.active = False
    out.loss.backward()
    scope.remove()
    L = cfg.num_hidden_layers
    per_layer = [0] * L
    per_layer_mod = [defaultdict(int) for _ in range(L)]
    outside = 0
    for rr in records.values():
        m = M.LAYER_RE.search(rr["module"])
        if m:
            i = int(m.group(1))
            per_layer[i] += rr["nbytes"]
            per_layer_mod[i][M.sub_in_layer(rr["module"])] += rr["nbytes"]
        else:
            outside += rr["nbytes"]
    res.update(saved_bytes_total=sum(rr["nbytes"] for rr in records.values()), per_layer=per_layer,
               outside_layers=outside, per_layer_by_module=[dict(sorted(d.items())) for d in per_layer_mod])
    if style is not None:
        res["detail_last_layer_lora"] = [dict(module=rr["module"], shape=rr["shape"], dtype=rr["dtype"], nbytes=rr["nbytes"])
                                         for rr in records.values() if f"layers.{L - 1}." in rr["module"]]
    del model, out
    gc.collect()
    return res


def grid():
    cases = []
    for name in CONFIGS:
        for b, s in ((1, 64), (2, 77), (2, 128)):
            cases.append((name, None, "bf16", b, s, 16, True))
            for style in STYLES:
                if style == "plan_w" and name != "mixtral":
                    continue
                for autocast in (True, False):
                    cases.append((name, style, "bf16", b, s, 16, autocast))
        cases.append((name, None, "bf16", 2, 64, 16, True))
        cases.append((name, "plan7_params", "bf16", 2, 64, 4, True))
        cases.append((name, None, "fp32", 2, 64, 16, True))
        cases.append((name, "plan7_params", "fp32", 2, 64, 16, True))
        cases.append((name, "attn", "fp32", 2, 64, 16, True))
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "lora_experts_measurements.json"))
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    results, t0 = [], time.time()
    cases = [c for c in grid() if not args.only or args.only in c[0]]
    for k, (name, style, dtype, b, s, r, autocast) in enumerate(cases):
        cid = f"{name}|{style or 'full'}|{dtype}|b={b}|s={s}|r={r}|autocast={autocast}"
        base = dict(id=cid, arch=name, config=CONFIGS[name], style=style, lora=STYLES.get(style), dtype=dtype,
                    batch=b, seq=s, rank=r, autocast_adapter_dtype=autocast)
        try:
            base.update(run(name, style, dtype, b, s, r, autocast))
        except Exception as e:
            base["error"] = f"{type(e).__name__}: {e}"
        results.append(base)
        print(f"[{k + 1}/{len(cases)} {time.time() - t0:.0f}s] {cid} {base.get('trainable_params')} "
              f"{base.get('saved_bytes_total', base.get('error'))}", file=sys.stderr, flush=True)
    meta = dict(torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__,
                python=sys.version.split()[0], device="cpu", threads=1)
    with open(args.out, "w") as f:
        f.write('{"meta": ' + json.dumps(meta) + ',\n "cases": [\n')
        f.write(",\n".join(json.dumps(r, separators=(",", ":")) for r in results))
        f.write("\n]}\n")


if __name__ == "__main__":
    main()
