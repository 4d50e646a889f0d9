#!/usr/bin/env python3
"""Writes Tests/MemoryEstimationTests/Fixtures/family-activation-cases.json from activations.json.gz
(measure_activations.py): per case the Hugging Face config the model was built from (plus the
`layer_types` the configuration class derived from it), the settings and the measured bytes, in the
layout of calibration-cases.json. FamilyActivationTests checks the estimator within 5%.

    /work/venv-calib/bin/python export_activations.py [activations.json.gz] [out.json]
    /work/venv-calib/bin/python export_activations.py activations-classic.json.gz \
        ../../../Tests/MemoryEstimationTests/Fixtures/family-activation-classic-cases.json
"""
import gzip, json, os, sys
from transformers import AutoConfig

src = sys.argv[1] if len(sys.argv) > 1 else "activations.json.gz"
dst = sys.argv[2] if len(sys.argv) > 2 else "../../../Tests/MemoryEstimationTests/Fixtures/family-activation-cases.json"
data = json.load(gzip.open(src) if src.endswith(".gz") else open(src))
cases, seen = [], set()
for c in data["cases"]:
    if "error" in c or c["case_id"] in seen:
        continue
    seen.add(c["case_id"])
    cfg = dict(c["hf_config"])
    built = AutoConfig.for_model(**cfg)
    if getattr(built, "layer_types", None) is not None:
        cfg["layer_types"] = list(built.layer_types)
    cases.append({
        "id": c["case_id"], "kind": "train", "architecture": c["architecture"], "config": cfg,
        "dtype": c["dtype"], "attention": c["attn_implementation"], "batch": c["batch"], "seq": c["seq"],
        "use_cache": True, "checkpointing": c["checkpointing"] != "off", "experts": "grouped_mm",
        "saved_bytes": c["saved_bytes_total"], "breakdown": c["breakdown"],
    })
meta = dict(data["meta"], source=f"docs/calibration/families/{os.path.basename(src)} via export_activations.py")
json.dump({"meta": meta, "cases": cases}, open(dst, "w"), indent=None, sort_keys=True, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {dst}")
