#!/usr/bin/env python3
"""KV cache bytes as transformers 5.24 holds them after a prefill, for tiny configs of the issue-10 families.

Run: /work/venv-calib/bin/python measure_kv.py  (writes kv.json; CPU, fp32, batch 2, 5 and 20 tokens, windows of 8).
Counts the unique storages of every layer's keys and values in the returned cache (not its int64 counters).
"""
import json, torch
from transformers import AutoConfig, AutoModelForCausalLM
torch.manual_seed(0)
tiny = {
 "qwen3": {"model_type": "qwen3", "vocab_size": 128, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32},
 "qwen3_moe": {"model_type": "qwen3_moe", "vocab_size": 128, "hidden_size": 64, "intermediate_size": 128, "moe_intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "num_experts": 4, "num_experts_per_tok": 2},
 "deepseek_v3": {"model_type": "deepseek_v3", "vocab_size": 128, "hidden_size": 64, "intermediate_size": 128, "moe_intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4, "n_shared_experts": 1, "n_routed_experts": 4, "num_experts_per_tok": 2, "kv_lora_rank": 32, "q_lora_rank": 48, "qk_rope_head_dim": 8, "v_head_dim": 16, "qk_nope_head_dim": 16, "first_k_dense_replace": 1, "n_group": 1, "topk_group": 1},
 "gpt_oss": {"model_type": "gpt_oss", "vocab_size": 128, "hidden_size": 64, "intermediate_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": 8},
 "gemma3_text": {"model_type": "gemma3_text", "vocab_size": 128, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 6, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "sliding_window": 8, "sliding_window_pattern": 6},
 "olmo2": {"model_type": "olmo2", "vocab_size": 128, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2},
 "gpt_neox": {"model_type": "gpt_neox", "vocab_size": 128, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4},
 "falcon": {"model_type": "falcon", "vocab_size": 128, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "multi_query": True},
 "falcon_new_decoder": {"model_type": "falcon", "vocab_size": 128, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_kv_heads": 2, "new_decoder_architecture": True},
 "gpt_bigcode": {"model_type": "gpt_bigcode", "vocab_size": 128, "n_embd": 64, "n_layer": 2, "n_head": 4, "multi_query": True},
 "gpt_bigcode_mha": {"model_type": "gpt_bigcode", "vocab_size": 128, "n_embd": 64, "n_layer": 2, "n_head": 4, "multi_query": False},
 "llama4_text": {"model_type": "llama4_text", "vocab_size": 128, "hidden_size": 64, "intermediate_size": 64, "intermediate_size_mlp": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "num_local_experts": 4, "num_experts_per_tok": 1, "interleave_moe_layer_step": 2, "attention_chunk_size": 8},
}
out = []
for name, c in tiny.items():
    for s in (5, 20):
        try:
            cfg = AutoConfig.for_model(**c)
            cfg._attn_implementation = "eager" if name == "gpt_oss" else "sdpa"
            m = AutoModelForCausalLM.from_config(cfg).eval()
            ids = torch.randint(0, 128, (2, s))
            with torch.no_grad():
                o = m(input_ids=ids, use_cache=True)
            cache = o.past_key_values
            seen = {}
            def walk(x):
                if torch.is_tensor(x):
                    st = x.untyped_storage(); seen[st.data_ptr()] = st.nbytes()
                elif isinstance(x, (list, tuple)):
                    for y in x: walk(y)
                elif hasattr(x, "__dict__"):
                    for v in vars(x).values(): walk(v)
            walk([getattr(l, a) for l in cache.layers for a in ("keys", "values") if getattr(l, a, None) is not None] if hasattr(cache, "layers") else cache)
            out.append({"name": name, "config": c, "batch": 2, "seq": s, "dtype": "fp32", "kv_cache_bytes": sum(seen.values())})
            print(name, s, sum(seen.values()), flush=True)
        except Exception as e:
            print(name, s, "ERROR", repr(e)[:200], flush=True)
json.dump({"transformers": __import__("transformers").__version__, "how": "no_grad prefill with use_cache=True, fp32; bytes of the unique storages the returned cache holds", "cases": out}, open("kv.json", "w"), indent=1, sort_keys=True)
