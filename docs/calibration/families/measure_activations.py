#!/usr/bin/env python3
"""Training activations (bytes autograd saves for backward) of the newer families, measured with the
machinery of ../measure.py (imported, unchanged: saved_tensors_hooks, each storage once, parameters
excluded, per-module/op attribution; profiler allocator accounting as ground truth).

    /work/venv-calib/bin/python measure_activations.py --out activations.json && gzip -9 activations.json

Tiny random-weight configs with odd sizes (so the terms can be told apart); every field that is not
given takes the configuration class default of transformers 5.24. `detail` covers every layer.
Options: --only SUBSTRING, --threads N (default 1).
"""
import argparse, json, os, sys, time
from collections import OrderedDict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import measure  # noqa: E402  (../measure.py; its own grid and numbers are untouched)
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoConfig  # noqa: E402

COMMON = dict(max_position_embeddings=512, bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=False)
CONFIGS = OrderedDict()
CONFIGS["qwen3"] = dict(model_type="qwen3", vocab_size=1001, hidden_size=144, intermediate_size=400,
                        num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=2, head_dim=40)
CONFIGS["olmo2"] = dict(model_type="olmo2", vocab_size=1001, hidden_size=176, intermediate_size=432,
                        num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=2)
CONFIGS["gemma3"] = dict(model_type="gemma3_text", vocab_size=1024, hidden_size=160, intermediate_size=416,
                         num_hidden_layers=7, num_attention_heads=4, num_key_value_heads=2, head_dim=48,
                         sliding_window=48, query_pre_attn_scalar=48)
CONFIGS["qwen2_moe"] = dict(model_type="qwen2_moe", vocab_size=1001, hidden_size=128, intermediate_size=288,
                            moe_intermediate_size=96, shared_expert_intermediate_size=160, num_hidden_layers=3,
                            num_attention_heads=4, num_key_value_heads=2, num_experts=6, num_experts_per_tok=2,
                            decoder_sparse_step=1, mlp_only_layers=[1])
CONFIGS["qwen3_moe"] = dict(model_type="qwen3_moe", vocab_size=1001, hidden_size=128, intermediate_size=288,
                            moe_intermediate_size=80, num_hidden_layers=3, num_attention_heads=4,
                            num_key_value_heads=2, head_dim=24, num_experts=6, num_experts_per_tok=3,
                            decoder_sparse_step=1, mlp_only_layers=[2])
CONFIGS["qwen3_moe_norm"] = dict(CONFIGS["qwen3_moe"], norm_topk_prob=True, mlp_only_layers=[0])
CONFIGS["deepseek_v3"] = dict(model_type="deepseek_v3", vocab_size=1001, hidden_size=128, intermediate_size=288,
                              moe_intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                              num_key_value_heads=4, q_lora_rank=48, kv_lora_rank=32, qk_nope_head_dim=16,
                              qk_rope_head_dim=8, v_head_dim=20, n_routed_experts=8, n_shared_experts=1,
                              num_experts_per_tok=2, n_group=2, topk_group=1, first_k_dense_replace=1,
                              topk_method="noaux_tc", norm_topk_prob=True)
CONFIGS["deepseek_v3_noq"] = dict(CONFIGS["deepseek_v3"], q_lora_rank=None)
CONFIGS["gpt_oss"] = dict(model_type="gpt_oss", vocab_size=1001, hidden_size=128, intermediate_size=96,
                          num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                          num_local_experts=4, num_experts_per_tok=2, sliding_window=24)
CONFIGS["glm4_moe"] = dict(model_type="glm4_moe", vocab_size=1001, hidden_size=128, intermediate_size=288,
                           moe_intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2, head_dim=32, n_routed_experts=6, n_shared_experts=1,
                           num_experts_per_tok=2, n_group=1, topk_group=1, first_k_dense_replace=1,
                           partial_rotary_factor=0.5, use_qk_norm=True, attention_bias=True)
CONFIGS["llama4"] = dict(model_type="llama4_text", vocab_size=1001, hidden_size=128, intermediate_size=96,
                         intermediate_size_mlp=288, num_hidden_layers=4, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=32, num_local_experts=4, num_experts_per_tok=1,
                         interleave_moe_layer_step=2, attention_chunk_size=40)
for c in CONFIGS.values():
    for k, v in COMMON.items():
        c.setdefault(k, v)

measure.ARCHS = OrderedDict((n, (lambda c=c: AutoConfig.for_model(**c))) for n, c in CONFIGS.items())

BS = [(1, 32), (2, 64), (3, 50)]
GC_BS = [(2, 64), (3, 50)]
# GptOssForCausalLM refuses sdpa in 5.24 (no _supports_sdpa: the sinks need eager or flex attention).
ATTNS = {"gpt_oss": ("eager",)}


def grid():
    cases = []
    for arch in CONFIGS:
        for dt in ("bf16", "fp32"):
            for attn in ATTNS.get(arch, ("sdpa", "eager")):
                for b, s in BS:
                    cases.append(dict(arch=arch, dtype=dt, attn=attn, gc="off", b=b, s=s))
        for gcm in ("nonreentrant", "reentrant"):
            for dt, attn in (("bf16", "sdpa"), ("bf16", "eager"), ("fp32", "sdpa")):
                if attn not in ATTNS.get(arch, ("sdpa", "eager")):
                    attn = "eager"
                for b, s in GC_BS:
                    cases.append(dict(arch=arch, dtype=dt, attn=attn, gc=gcm, b=b, s=s))
    out = OrderedDict()  # gpt-oss maps sdpa to eager, which would repeat a case
    for c in cases:
        c["id"] = "|".join(str(c[k]) for k in ("arch", "dtype", "attn", "gc", "b", "s")) + "|train"
        out.setdefault(c["id"], c)
    return list(out.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="activations.json")
    ap.add_argument("--only", default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results, t0 = [], time.time()
    cases = [c for c in grid() if not args.only or args.only in c["id"]]
    for i, c in enumerate(cases):
        arch = c["arch"]
        L = CONFIGS[arch]["num_hidden_layers"]
        base = dict(case_id=c["id"], kind="train", architecture=arch, hf_config=CONFIGS[arch], dtype=c["dtype"],
                    attn_implementation=c["attn"], batch=c["b"], seq=c["s"], checkpointing=c["gc"],
                    experts_implementation="default", use_cache="config default (True)")
        try:
            base.update(measure.run_train(arch, c["dtype"], c["attn"], c["gc"], c["b"], c["s"],
                                          detail_layers=tuple(range(L))))
        except Exception as e:  # recorded, not hidden
            base["error"] = f"{type(e).__name__}: {str(e)[:300]}"
        results.append(base)
        print(f"[{i + 1}/{len(cases)} {time.time() - t0:.0f}s] {c['id']} "
              f"{base.get('saved_bytes_total', base.get('error'))} alive={base.get('alive_after_forward_bytes')}",
              file=sys.stderr, flush=True)
    meta = dict(torch=torch.__version__, transformers=transformers.__version__, python=sys.version.split()[0],
                device="cpu", generated=time.strftime("%Y-%m-%d"))
    with open(args.out, "w") as f:
        f.write('{"meta": ' + json.dumps(meta) + ',\n "cases": [\n')
        f.write(",\n".join(json.dumps(r, separators=(",", ":"), default=list) for r in results))
        f.write("\n]}\n")


if __name__ == "__main__":
    main()
