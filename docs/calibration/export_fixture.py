#!/usr/bin/env python3
"""Writes the compact test fixture Tests/MemoryEstimationTests/Fixtures/calibration-cases.json from
measurements.json: per case the Hugging Face config, the settings and the measured bytes. The Swift
tests run the estimator on each config and compare (activations within 5%, KV cache exact).

    python3 export_fixture.py [measurements.json.gz] [out.json]
"""
import gzip
import json
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "measurements.json.gz"
dst = sys.argv[2] if len(sys.argv) > 2 else "../../Tests/MemoryEstimationTests/Fixtures/calibration-cases.json"
data = json.load(gzip.open(src) if src.endswith(".gz") else open(src))


def hf_config(c):
    g = c["config"]
    out = {k: g[k] for k in ("model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                             "num_attention_heads", "num_key_value_heads", "head_dim", "tie_word_embeddings")}
    for k in ("sliding_window", "layer_types", "num_local_experts", "num_experts_per_tok", "attn_logit_softcapping",
              "final_logit_softcapping"):
        if g.get(k) is not None:
            out[k] = g[k]
    if g["model_type"] == "qwen2" and g.get("sliding_window") is None:
        out["use_sliding_window"] = False
    if g["model_type"] == "gpt2":
        out["n_inner"] = g["intermediate_size"]
        out["attn_pdrop"] = g["dropout"]["attn"] or 0.0
        out["resid_pdrop"] = g["dropout"]["resid"] or 0.0
        out["embd_pdrop"] = g["dropout"]["embd"] or 0.0
    return out


cases = []
for c in data["cases"]:
    if "error" in c:
        continue
    uc = c.get("use_cache")
    case = {
        "id": c["case_id"], "kind": c["kind"], "architecture": c["architecture"], "config": hf_config(c),
        "dtype": c["dtype"], "attention": c["attn_implementation"], "batch": c["batch"], "seq": c["seq"],
        "use_cache": False if uc is False else True,
    }
    if c["kind"] == "train":
        case["checkpointing"] = c["checkpointing"] != "off"
        case["experts"] = "eager" if c.get("experts_implementation") == "eager" else "grouped_mm"
        case["saved_bytes"] = c["saved_bytes_total"]
        case["breakdown"] = c["breakdown"]
    elif c["kind"] == "kv":
        case["kv_cache_bytes"] = c["kv_cache_bytes"]
    elif c["kind"] == "prefill":
        case["logits_to_keep"] = c["logits_to_keep"]
        case["use_cache"] = bool(c["use_cache"])
        case["peak_working_bytes"] = c["peak_working_bytes"]
    cases.append(case)

meta = dict(data["meta"], source="docs/calibration/measurements.json via export_fixture.py")
json.dump({"meta": meta, "cases": cases}, open(dst, "w"), indent=1, sort_keys=True)
print(f"wrote {len(cases)} cases to {dst}")
