#!/usr/bin/env python3
"""Training activations of the classic families (GPT-NeoX/Pythia, StarCoder2, Falcon, GPT-BigCode,
DeepSeek-V2), measured exactly like measure_activations.py (its grid and main, ../measure.py's
machinery, both imported unchanged); only the configs differ.

    /work/venv-calib/bin/python measure_classic_activations.py --out activations-classic.json && gzip -9 activations-classic.json

Every attention implementation used is supported by these families in transformers 5.24
(`_supports_sdpa` and eager; all but Falcon and GPT-BigCode also flex, all flash).
"""
import os, sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure_activations as ma  # noqa: E402
from transformers import AutoConfig  # noqa: E402

C = OrderedDict()
# Pythia: fused query_key_value, rotary_pct 0.25 (default) of head_dim 24, parallel residual (default).
C["gpt_neox"] = dict(model_type="gpt_neox", vocab_size=1001, hidden_size=144, intermediate_size=400,
                     num_hidden_layers=2, num_attention_heads=6)
C["gpt_neox_seq"] = dict(C["gpt_neox"], use_parallel_residual=False, rotary_pct=0.5)
C["starcoder2"] = dict(model_type="starcoder2", vocab_size=1001, hidden_size=144, intermediate_size=400,
                       num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=2)
C["starcoder2_sw"] = dict(C["starcoder2"], sliding_window=48)
# Falcon-7B style: parallel attention, multi-query, one input norm, no biases.
C["falcon"] = dict(model_type="falcon", vocab_size=1001, hidden_size=144, ffn_hidden_size=400,
                   num_hidden_layers=2, num_attention_heads=6)
# Falcon-40B/180B style: new decoder, num_kv_heads, ln_attn + ln_mlp.
C["falcon_new"] = dict(C["falcon"], new_decoder_architecture=True, num_kv_heads=2)
# Sequential (parallel_attn false), multi-query.
C["falcon_seq"] = dict(C["falcon"], parallel_attn=False)
# Falcon-RW style: ALiBi, sequential, biases, full multi-head.
C["falcon_alibi"] = dict(C["falcon"], alibi=True, parallel_attn=False, bias=True, multi_query=False)
# GPT-BigCode (SantaCoder/StarCoder 1): GPT-2 block with multi-query; dropout 0.1 by default.
# (attribute_map names: hidden_size = n_embd, num_hidden_layers = n_layer, num_attention_heads = n_head.)
C["gpt_bigcode"] = dict(model_type="gpt_bigcode", vocab_size=1001, hidden_size=144, n_inner=400,
                        num_hidden_layers=2, num_attention_heads=6)
C["gpt_bigcode_nodrop"] = dict(C["gpt_bigcode"], resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
# DeepSeek-V2: MLA without q_lora_rank, greedy top-k with softmax scores.
C["deepseek_v2"] = dict(model_type="deepseek_v2", vocab_size=1001, hidden_size=128, intermediate_size=288,
                        moe_intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                        num_key_value_heads=4, q_lora_rank=None, kv_lora_rank=32, qk_nope_head_dim=16,
                        qk_rope_head_dim=8, v_head_dim=20, n_routed_experts=8, n_shared_experts=1,
                        num_experts_per_tok=2, first_k_dense_replace=1, topk_method="greedy")
for c in C.values():
    for k, v in ma.COMMON.items():
        c.setdefault(k, v)

ma.CONFIGS.clear()
ma.CONFIGS.update(C)
ma.ATTNS.clear()
ma.measure.ARCHS = OrderedDict((n, (lambda c=c: AutoConfig.for_model(**c))) for n, c in C.items())

if __name__ == "__main__":
    ma.main()
