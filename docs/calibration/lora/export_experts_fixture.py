#!/usr/bin/env python3
"""Writes Tests/MemoryEstimationTests/Fixtures/lora-moe-cases.json from lora_experts_measurements.json.gz.

Each case: the HF config, dtype, batch, seq, rank, adapter bytes, the plan target names that give
PEFT the same target_modules, PEFT's exact trainable-parameter count, the saved-for-backward bytes
with LoRA and with the same model fully trained (no PEFT)."""
import gzip
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
ATTN = ["q_proj", "k_proj", "v_proj", "o_proj"]
MLA = {True: ["q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"],
       False: ["q_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"]}
MLP = ["gate_proj", "up_proj", "down_proj"]


def plan_targets(arch, style, cfg):
    attn = MLA[cfg.get("q_lora_rank") is not None] if arch.startswith("deepseek") else ATTN
    if style == "attn":
        return attn
    if arch == "mixtral":
        return attn + ["w1", "w2", "w3"] if style == "plan_w" else None
    # target_parameters on top of the names changes nothing for the converted families (same modules, same ranks)
    if arch.startswith("deepseek"):
        return attn + MLP if style in ("plan7_mla", "plan7_params") else None
    if arch == "qwen3_moe":
        return attn + MLP if style in ("plan7", "plan7_params") else None
    return attn + MLP if style == "plan7" else None


def main():
    doc = json.load(gzip.open(os.path.join(HERE, "lora_experts_measurements.json.gz")))
    cases = doc["cases"]
    full = {(c["arch"], c["dtype"], c["batch"], c["seq"]): c for c in cases if c["style"] is None}
    out = []
    for c in cases:
        if c["style"] is None or "error" in c:
            continue
        t = plan_targets(c["arch"], c["style"], c["config"])
        if t is None:
            continue
        f = full[(c["arch"], c["dtype"], c["batch"], c["seq"])]
        out.append(dict(id=c["id"], config=c["config"], dtype=c["dtype"], attention="sdpa", batch=c["batch"], seq=c["seq"],
                        rank=c["rank"], adapter_bytes=4 if c["dtype"] == "fp32" or c["autocast_adapter_dtype"] else 2,
                        targets=t, peft=c["lora"], trainable_params=c["trainable_params"],
                        saved_bytes=c["saved_bytes_total"], full_saved_bytes=f["saved_bytes_total"]))
    path = os.path.join(ROOT, "Tests/MemoryEstimationTests/Fixtures/lora-moe-cases.json")
    with open(path, "w") as fh:
        fh.write('{"meta": ' + json.dumps(dict(doc["meta"], source="docs/calibration/lora/lora_experts_measurements.json.gz"))
                 + ',\n "cases": [\n' + ",\n".join(json.dumps(x, separators=(",", ":")) for x in out) + "\n]}\n")
    print(len(out), "cases ->", path)


if __name__ == "__main__":
    main()
