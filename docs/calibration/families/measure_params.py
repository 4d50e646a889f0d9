#!/usr/bin/env python3
"""Parameter counts as transformers instantiates them, for the families of issue 10.

Each config below is the published config.json of the model it is named after (the fields that
change the structure; the rest take the configuration class defaults), plus a few variants that
exercise layer placement rules (decoder_sparse_step, mlp_only_layers, GQA q/k norms).
Run:  /work/venv-calib/bin/python measure_params.py params.json   (torch + transformers from PyPI, CPU)
The model is built on the meta device, so no weights are allocated; parameters() counts tied
weights once and excludes buffers (DeepSeek-V3's e_score_correction_bias is a buffer).
"""
import json, sys, torch
from transformers import AutoConfig, AutoModelForCausalLM
C = {}
C["deepseek-v3"] = json.loads(r'''{"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "vocab_size": 129280, "hidden_size": 7168, "intermediate_size": 18432, "moe_intermediate_size": 2048, "num_hidden_layers": 61, "num_nextn_predict_layers": 1, "num_attention_heads": 128, "num_key_value_heads": 128, "n_shared_experts": 1, "n_routed_experts": 256, "routed_scaling_factor": 2.5, "kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64, "v_head_dim": 128, "qk_nope_head_dim": 128, "topk_method": "noaux_tc", "n_group": 8, "topk_group": 4, "num_experts_per_tok": 8, "moe_layer_freq": 1, "first_k_dense_replace": 3, "norm_topk_prob": true, "scoring_func": "sigmoid", "hidden_act": "silu", "max_position_embeddings": 163840, "rms_norm_eps": 1e-06, "tie_word_embeddings": false, "rope_theta": 10000, "attention_bias": false}''')
C["kimi-k2"] = dict(C["deepseek-v3"], n_routed_experts=384, num_attention_heads=64, first_k_dense_replace=1, vocab_size=163840, n_group=1, topk_group=1, num_key_value_heads=64)
C["deepseek-v2-lite"] = {"model_type": "deepseek_v2", "vocab_size": 102400, "hidden_size": 2048, "intermediate_size": 10944, "moe_intermediate_size": 1408, "num_hidden_layers": 27, "num_attention_heads": 16, "num_key_value_heads": 16, "n_shared_experts": 2, "n_routed_experts": 64, "kv_lora_rank": 512, "q_lora_rank": None, "qk_rope_head_dim": 64, "v_head_dim": 128, "qk_nope_head_dim": 128, "num_experts_per_tok": 6, "moe_layer_freq": 1, "first_k_dense_replace": 1, "topk_method": "greedy", "tie_word_embeddings": False}
C["qwen3-0.6b"] = {"model_type": "qwen3", "vocab_size": 151936, "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "tie_word_embeddings": True, "attention_bias": False}
C["qwen3-8b"] = {"model_type": "qwen3", "vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "tie_word_embeddings": False}
C["qwen3-30b-a3b"] = {"model_type": "qwen3_moe", "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 6144, "moe_intermediate_size": 768, "num_hidden_layers": 48, "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128, "num_experts": 128, "num_experts_per_tok": 8, "decoder_sparse_step": 1, "mlp_only_layers": [], "tie_word_embeddings": False}
C["qwen3-235b-a22b"] = {"model_type": "qwen3_moe", "vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 12288, "moe_intermediate_size": 1536, "num_hidden_layers": 94, "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 128, "num_experts": 128, "num_experts_per_tok": 8, "decoder_sparse_step": 1, "mlp_only_layers": [], "tie_word_embeddings": False}
C["qwen1.5-moe-a2.7b"] = {"model_type": "qwen2_moe", "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 5632, "moe_intermediate_size": 1408, "shared_expert_intermediate_size": 5632, "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 16, "num_experts": 60, "num_experts_per_tok": 4, "decoder_sparse_step": 1, "mlp_only_layers": [], "tie_word_embeddings": False}
C["qwen-moe-mixed"] = dict(C["qwen3-30b-a3b"], num_hidden_layers=6, decoder_sparse_step=2, mlp_only_layers=[3], num_experts=8)
C["gpt-oss-20b"] = {"model_type": "gpt_oss", "vocab_size": 201088, "hidden_size": 2880, "intermediate_size": 2880, "num_hidden_layers": 24, "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64, "num_local_experts": 32, "num_experts_per_tok": 4, "sliding_window": 128, "tie_word_embeddings": False, "attention_bias": True}
C["gpt-oss-120b"] = dict(C["gpt-oss-20b"], num_hidden_layers=36, num_local_experts=128)
C["gemma-3-1b"] = {"model_type": "gemma3_text", "vocab_size": 262144, "hidden_size": 1152, "intermediate_size": 6912, "num_hidden_layers": 26, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256, "sliding_window": 512, "sliding_window_pattern": 6}
C["llama4-scout"] = {"model_type": "llama4_text", "vocab_size": 202048, "hidden_size": 5120, "intermediate_size": 8192, "intermediate_size_mlp": 16384, "num_hidden_layers": 48, "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128, "num_local_experts": 16, "num_experts_per_tok": 1, "interleave_moe_layer_step": 1, "attention_chunk_size": 8192, "tie_word_embeddings": False}
C["llama4-maverick"] = dict(C["llama4-scout"], num_local_experts=128, interleave_moe_layer_step=2)
C["glm-4.5-air"] = {"model_type": "glm4_moe", "vocab_size": 151552, "hidden_size": 4096, "intermediate_size": 10944, "moe_intermediate_size": 1408, "num_hidden_layers": 46, "num_attention_heads": 96, "num_key_value_heads": 8, "head_dim": 128, "n_shared_experts": 1, "n_routed_experts": 128, "num_experts_per_tok": 8, "first_k_dense_replace": 1, "attention_bias": True, "use_qk_norm": False, "partial_rotary_factor": 0.5, "tie_word_embeddings": False}
C["glm-4.5"] = dict(C["glm-4.5-air"], hidden_size=5120, intermediate_size=12288, moe_intermediate_size=1536, num_hidden_layers=92, n_routed_experts=160, first_k_dense_replace=3, use_qk_norm=True)
C["olmo2-7b"] = {"model_type": "olmo2", "vocab_size": 100352, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32, "tie_word_embeddings": False}
C["olmo2-gqa"] = dict(C["olmo2-7b"], num_key_value_heads=8, num_hidden_layers=2)
C["pythia-1b"] = {"model_type": "gpt_neox", "vocab_size": 50304, "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 8, "rotary_pct": 0.25, "tie_word_embeddings": False, "use_parallel_residual": True}
C["starcoder2-7b"] = {"model_type": "starcoder2", "vocab_size": 49152, "hidden_size": 4608, "intermediate_size": 18432, "num_hidden_layers": 32, "num_attention_heads": 36, "num_key_value_heads": 4, "use_bias": True, "tie_word_embeddings": False}
C["starcoder2-3b"] = {"model_type": "starcoder2", "vocab_size": 49152, "hidden_size": 3072, "intermediate_size": 12288, "num_hidden_layers": 30, "num_attention_heads": 24, "num_key_value_heads": 2, "use_bias": True}
C["qwen3-1.7b"] = dict(C["qwen3-0.6b"], hidden_size=2048, intermediate_size=6144, num_attention_heads=16, num_key_value_heads=8)
C["qwen3-4b"] = dict(C["qwen3-0.6b"], hidden_size=2560, intermediate_size=9728, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8)
C["qwen3-14b"] = dict(C["qwen3-8b"], hidden_size=5120, intermediate_size=17408, num_hidden_layers=40, num_attention_heads=40, num_key_value_heads=8)
C["qwen3-32b"] = dict(C["qwen3-8b"], hidden_size=5120, intermediate_size=25600, num_hidden_layers=64, num_attention_heads=64, num_key_value_heads=8)
C["phi-4"] = {"model_type": "phi3", "vocab_size": 100352, "hidden_size": 5120, "intermediate_size": 17920, "num_hidden_layers": 40, "num_attention_heads": 40, "num_key_value_heads": 10, "tie_word_embeddings": False, "max_position_embeddings": 16384}
# Gemma-3 4B/12B/27B (multimodal; the language model's text_config as published, other fields are
# Gemma3TextConfig defaults: vocab 262208, 8 heads, 4 KV heads, head_dim 256).
C["gemma-3-4b-text"] = {"model_type": "gemma3_text", "hidden_size": 2560, "intermediate_size": 10240, "num_hidden_layers": 34, "sliding_window": 1024}
C["gemma-3-12b-text"] = {"model_type": "gemma3_text", "hidden_size": 3840, "intermediate_size": 15360, "num_hidden_layers": 48, "num_attention_heads": 16, "num_key_value_heads": 8, "sliding_window": 1024}
C["gemma-3-27b-text"] = {"model_type": "gemma3_text", "head_dim": 128, "hidden_size": 5376, "intermediate_size": 21504, "num_hidden_layers": 62, "num_attention_heads": 32, "num_key_value_heads": 16, "query_pre_attn_scalar": 168, "sliding_window": 1024}
# Mistral-Small-3.1/3.2-24B (mistral3): text_config; Mistral-Small-24B-2501 is the same decoder, text only.
C["mistral-small-3.1-24b-text"] = {"model_type": "mistral", "head_dim": 128, "hidden_size": 5120, "intermediate_size": 32768, "max_position_embeddings": 131072, "num_attention_heads": 32, "num_hidden_layers": 40, "num_key_value_heads": 8, "sliding_window": None, "vocab_size": 131072, "tie_word_embeddings": False}
# Classic non-gated MLPs with biases: Falcon (parallel attention, multi-query; the 40B "new decoder"
# with two input norms; the sequential RW variant with ALiBi) and GPT-BigCode (SantaCoder, StarCoder).
C["falcon-7b"] = {"model_type": "falcon", "hidden_size": 4544, "num_attention_heads": 71, "num_hidden_layers": 32, "vocab_size": 65024, "multi_query": True, "parallel_attn": True, "bias": False, "alibi": False, "new_decoder_architecture": False}
C["falcon-40b"] = {"model_type": "falcon", "hidden_size": 8192, "num_attention_heads": 128, "num_kv_heads": 8, "num_hidden_layers": 60, "vocab_size": 65024, "new_decoder_architecture": True, "parallel_attn": True, "bias": False, "alibi": False}
C["falcon-rw-1b"] = {"model_type": "falcon", "hidden_size": 2048, "num_attention_heads": 32, "num_hidden_layers": 24, "vocab_size": 50304, "multi_query": False, "parallel_attn": False, "bias": True, "alibi": True}
C["falcon-sequential-gqa"] = {"model_type": "falcon", "hidden_size": 96, "num_attention_heads": 6, "num_kv_heads": 2, "num_hidden_layers": 3, "vocab_size": 301, "new_decoder_architecture": True, "parallel_attn": False, "bias": True, "ffn_hidden_size": 200, "tie_word_embeddings": False}
C["falcon-one-parallel-norm"] = {"model_type": "falcon", "hidden_size": 96, "num_attention_heads": 6, "num_kv_heads": 3, "num_hidden_layers": 3, "vocab_size": 301, "new_decoder_architecture": True, "num_ln_in_parallel_attn": 1, "bias": False}
C["santacoder"] = {"model_type": "gpt_bigcode", "n_embd": 2048, "n_layer": 24, "n_head": 16, "vocab_size": 49280, "n_positions": 2048, "multi_query": True}
C["starcoder"] = {"model_type": "gpt_bigcode", "n_embd": 6144, "n_layer": 40, "n_head": 48, "vocab_size": 49152, "n_positions": 8192, "n_inner": 24576, "multi_query": True}
C["gpt-bigcode-mha"] = {"model_type": "gpt_bigcode", "n_embd": 96, "n_layer": 3, "n_head": 4, "vocab_size": 257, "n_positions": 77, "n_inner": 130, "multi_query": False, "tie_word_embeddings": False}
out = {}
for name, c in C.items():
    try:
        cfg = AutoConfig.for_model(**c)
        with torch.device("meta"):
            m = AutoModelForCausalLM.from_config(cfg)
        n = sum(p.numel() for p in m.parameters())
        shapes = {k: list(v.shape) for k, v in m.named_parameters() if ".layers.0." in k or ".layers.1." in k or "layers" not in k}
        out[name] = {"config": c, "parameters": n, "tied": getattr(cfg, "tie_word_embeddings", None), "shapes": shapes}
        print(name, n, flush=True)
    except Exception as e:
        out[name] = {"config": c, "error": repr(e)[:300]}
        print(name, "ERROR", repr(e)[:200], flush=True)
cases = [{"name": n, "config": x["config"], "parameters": x["parameters"]} for n, x in out.items() if "parameters" in x]
json.dump({"transformers": __import__("transformers").__version__, "torch": torch.__version__,
           "how": "AutoModelForCausalLM.from_config on the meta device; sum of numel over model.parameters() (tied weights once)",
           "cases": cases}, open(sys.argv[1] if len(sys.argv) > 1 else "params.json", "w"), indent=1, sort_keys=True)
