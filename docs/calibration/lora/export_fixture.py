#!/usr/bin/env python3
"""Writes Tests/MemoryEstimationTests/Fixtures/lora-cases.json from lora_measurements.json.gz: the
PEFT LoRA cases our estimator models (no lora_dropout, no autocast forward, no
enable_input_require_grads without checkpointing), with the config, settings and measured bytes.

    python3 export_fixture.py [lora_measurements.json.gz] [out.json]
"""
import gzip
import json
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "lora_measurements.json.gz"
dst = sys.argv[2] if len(sys.argv) > 2 else "../../../Tests/MemoryEstimationTests/Fixtures/lora-cases.json"
data = json.load(gzip.open(src) if src.endswith(".gz") else open(src))
keys = ("model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "head_dim", "tie_word_embeddings")
cases = []
for c in data["cases"]:
    lora = c["lora"]
    if lora["lora_dropout"] > 0 or c.get("autocast_forward") or c.get("enable_input_require_grads_called"):
        continue
    g = c["config"]
    config = {k: g[k] for k in keys}
    for k in ("num_local_experts", "num_experts_per_tok"):
        if g.get(k) is not None:
            config[k] = g[k]
    cases.append({
        "id": c["case_id"], "config": config, "dtype": c["dtype"], "attention": c["attn_implementation"],
        "batch": c["batch"], "seq": c["seq"], "checkpointing": c["checkpointing"] != "off",
        "rank": lora["r"], "targets": lora["target_modules"],
        "adapter_bytes": 4 if c["adapter_dtype"] == "float32" else 2, "saved_bytes": c["saved_bytes_total"],
    })
json.dump({"meta": data["meta"], "cases": cases}, open(dst, "w"), indent=1, sort_keys=True)
print(f"wrote {len(cases)} cases to {dst}")
