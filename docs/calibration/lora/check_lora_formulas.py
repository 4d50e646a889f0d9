#!/usr/bin/env python3
"""Closed-form LoRA (PEFT) formulas for the bytes measured by measure_lora.py, checked case by case.

    python3 check_lora_formulas.py [lora_measurements.json]     (plain python3, no torch needed)

Two independent predictions are checked against every case, for the total and for every
breakdown component (embedding, each layer, final norm, lm_head+loss, other), plus the
allocator's alive-after-forward bytes:

  1. pred_delta: the full-fine-tuning formula of ../check_formulas.py (findings.md §1-2) for the
     same model and shape, minus the terms a frozen base no longer saves, plus what the adapters
     save (findings.md of this folder, "the formula").  Used for layers whose input requires grad;
     the first layer (whose input does not, unless input grads are enabled) gets the listed extra
     subtractions.
  2. pred_rules: an op-by-op model: every op saves a tensor iff the gradient it serves is needed
     (requires_grad propagated through the layer), with storage identity tracked, so shared
     storages are counted once.

Exits non-zero unless both are exact (error 0) for every case.

Symbols as in ../findings.md: b, s, T = b*s, h, a, k, d, i, V, L, e (model dtype bytes); plus
r (LoRA rank), ea (adapter dtype bytes: 4 when PEFT's default autocast_adapter_dtype=True upcasts
bf16 adapters to fp32, else e), cast = [ea != e], p = [lora_dropout > 0].
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import check_formulas as F  # noqa: E402  (full fine-tuning formulas, ../check_formulas.py)

CPU_RNG_STATE = F.CPU_RNG_STATE
QKV, MLP_IN = ("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj")


def ldims(c):
    x = F.dims(c)
    x.update(r=c["lora"]["r"], ea={"bfloat16": 2, "float32": 4, "float16": 2}[c["adapter_dtype"]],
             p=c["lora"]["lora_dropout"] > 0, tg=set(c["lora"]["target_modules"]),
             eager=c["attn_implementation"] == "eager",
             gin0=bool(c["embedding_output_requires_grad"]),
             amp=bool(c.get("autocast_forward")))
    x["cast"] = x["ea"] != x["e"]
    return x


# ------------------------------------------------------------------------------------------------
# 1. LoRA = full fine-tuning minus / plus terms
# ------------------------------------------------------------------------------------------------

def adapter_inputs(x, mods, n_in, in_grad, shared_free=False):
    """Bytes the lora_A's of the adapted modules in `mods` (which all read the same input of
    width n_in) save as their input.  No cast, no dropout: the input itself, e*T*n_in, once for the
    whole group (0 if shared_free: already saved by someone else).  Cast (fp32 adapters on a bf16
    model) or dropout: each adapter saves its own fresh copy ea*T*n_in (the .to(fp32) copy or the
    dropout output), and with dropout also its dropout mask ea*T*n_in when the input requires grad."""
    m = len(x["tg"] & set(mods))
    if m == 0:
        return 0
    T, e, ea = x["T"], x["e"], x["ea"]
    if x["amp"]:
        # torch.autocast(bf16): lora_A's mm re-casts its (fp32) input to bf16 -> a fresh e*T*n_in per
        # adapter; the dropout mask (mul is not an autocast op) stays fp32
        return m * (e * T * n_in + (ea * T * n_in if (x["p"] and in_grad) else 0))
    if not x["cast"] and not x["p"]:
        return 0 if shared_free else e * T * n_in
    return m * ea * T * n_in * (1 + (1 if (x["p"] and in_grad) else 0))


def lora_layer_delta(c, x, in_grad_layer=True):
    """LoRA layer minus full-FT layer, for a layer whose input requires grad."""
    T, h, a, d, i, e, ea, r = (x[n] for n in "T h a d i e ea r".split())
    moe = bool(x["E"])
    n_ad = len(x["tg"])
    delta = 0
    delta -= 2 * e * T * h          # both RMSNorms: normalized output (saved by weight*x) not saved
    delta -= e * T * h              # q/k/v input no longer saved by the frozen mm
    if x["eager"]:
        delta -= e * T * a * d      # eager: o_proj input copy no longer saved by the frozen mm
    if moe:
        delta += moe_delta(c, x)
    else:
        delta -= e * T * h          # gate/up input
        delta -= e * T * i          # down_proj input (the SwiGLU product)
    delta += adapter_inputs(x, QKV, h, True)
    delta += adapter_inputs(x, ("o_proj",), a * d, True, shared_free=not x["eager"])
    if not moe:
        delta += adapter_inputs(x, MLP_IN, h, True)
        delta += adapter_inputs(x, ("down_proj",), i, True)
    delta += n_ad * ea * T * r      # lora_B saves each lora_A output (b, s, r) in the adapter dtype
    if x["amp"]:
        delta += n_ad * (e - ea) * T * r     # ... which is bf16 under autocast
        delta += amp_weight_casts(x, True)   # + the bf16 copies of lora_A/lora_B weights autocast makes
    return delta


def moe_delta(c, x):
    """Mixtral MoE block (default grouped_mm experts) with frozen router and experts (LoRA on
    attention only), minus findings §1.3: the three inputs that only served weight gradients are
    no longer saved -- the router mm input e*T*h, the gathered tokens e*S*h (first grouped_mm) and
    the SwiGLU product e*S*i (second grouped_mm).  Everything else (softmax, top-k, permutation
    indices, offsets, gate_up output, silu output, routing weights, down output) is still saved."""
    T, h, i, e, K = (x[n] for n in "T h i e K".split())
    S = T * K
    return -(e * T * h + e * S * h + e * S * i)


def proj_shapes(x):
    h, a, k, d, i = (x[n] for n in "h a k d i".split())
    return dict(q_proj=(h, a * d), k_proj=(h, k * d), v_proj=(h, k * d), o_proj=(a * d, h),
                gate_proj=(h, i), up_proj=(h, i), down_proj=(i, h))


def amp_weight_casts(x, in_grad, mods=None):
    """Under torch.autocast(bf16) the fp32 LoRA weights are cast to bf16 (fresh, non-parameter
    storages, cached per autocast region): lora_B's mm saves its weight copy e*r*n_out for the grad
    of the lora_A output (always needed); lora_A's mm saves its weight copy e*r*n_in only when the
    layer input requires grad."""
    sh = proj_shapes(x)
    mods = x["tg"] if mods is None else x["tg"] & set(mods)
    return sum(x["e"] * x["r"] * (sh[m][1] + (sh[m][0] if in_grad else 0)) for m in mods)


def first_layer_correction(c, x):
    """Layer 0 when the embedding output does not require grad (no checkpointing, no
    enable_input_require_grads): nothing before the first adapted module saves anything."""
    T, h, a, d, e, ea, b, s = (x[n] for n in "T h a d e ea b s".split())
    tg = x["tg"]
    norm = 4 * T * h + 4 * T
    corr = 0
    has_attn = bool(tg & {"q_proj", "k_proj", "v_proj"})
    if has_attn:
        corr -= norm                                     # input_layernorm: input has no grad
        if x["p"]:
            corr -= len(tg & set(QKV)) * ea * T * h      # q/k/v dropout masks: input has no grad
        if x["amp"]:
            corr -= amp_weight_casts(x, True, QKV) - amp_weight_casts(x, False, QKV)  # lora_A weight casts
        if x["eager"]:
            if "k_proj" not in tg:
                corr -= e * T * a * d                    # q (bmm self) only saved for k's grad
            if "q_proj" not in tg:
                corr -= e * T * a * d                    # k_rep (bmm mat2) only saved for q's grad
    else:
        corr -= 2 * norm                                 # both norms
        corr -= attention_core(c, x)                     # attention saves nothing
        if "o_proj" in tg:
            raise NotImplementedError
        if x["p"]:
            corr -= len(tg & set(MLP_IN)) * ea * T * h   # gate/up dropout masks
        if x["amp"]:
            corr -= amp_weight_casts(x, True, MLP_IN) - amp_weight_casts(x, False, MLP_IN)
    return corr


def attention_core(c, x):
    """Saved bytes of the attention core (everything in self_attn except projections' inputs) in a
    layer with grads: sdpa q, k, v, out, lse; eager q, k_rep, v_rep, softmax fp32, bf16 probs copy."""
    T, a, k, d, e, b, s = (x[n] for n in "T a k d e b s".split())
    if x["eager"]:
        return 3 * e * T * a * d + 4 * b * a * s * s + (e * b * a * s * s if e != 4 else 0)
    return 2 * e * T * a * d + 2 * e * T * k * d + 4 * b * a * s


def pred_delta(c):
    x = ldims(c)
    full = F.pred_train_nogc(dict(c, checkpointing="off", use_cache=None))
    T, h, e = x["T"], x["h"], x["e"]
    if c["checkpointing"] != "off":
        # per checkpointed layer: its input hidden state (the hook sees the checkpoint's inputs)
        per = [e * T * h] * x["L"]
        other = 0
    else:
        dl = lora_layer_delta(c, x)
        per = [full["per_layer"][li] + dl for li in range(x["L"])]
        if not x["gin0"]:
            per[0] += first_layer_correction(c, x)
        other = full["other"]  # RoPE cos/sin 2sde, saved by q*cos / k*cos wherever q or k has grad
    return dict(embedding=full["embedding"] - 8 * T,               # ids not saved: frozen embedding
                per_layer=per,
                final_norm=full["final_norm"] - e * T * h,         # normalized output not saved
                lm_head_and_loss=full["lm_head_and_loss"] - e * T * h,  # frozen lm_head: input not saved
                other=other)


# ------------------------------------------------------------------------------------------------
# 2. op-by-op rules (requires_grad propagation, storage identity)
# ------------------------------------------------------------------------------------------------

def rules_layer(c, x, gin):
    T, h, a, k, d, i, e, ea, r, b, s = (x[n] for n in "T h a k d i e ea r b s".split())
    tg, p, cast = x["tg"], x["p"], x["cast"]
    st = {}

    def save(key, nb):
        st[key] = nb

    def norm(name, g):
        if g:  # pow / x*rsqrt save the fp32 input, rsqrt saves its (b,s,1) result
            save(name + ".x32", 4 * T * h)
            save(name + ".rsqrt", 4 * T)

    def adapter(mod, n_in, in_key, g_in):
        if mod not in tg:
            return False
        if x["amp"]:
            save(mod + ".in16", e * T * n_in)            # autocast's bf16 copy, saved by lora_A
            if p and g_in:
                save(mod + ".mask", ea * T * n_in)       # fp32 dropout mask
            n_out = proj_shapes(x)[mod][1]
            save(mod + ".A_out", e * T * r)              # bf16 lora_A output, saved by lora_B
            save(mod + ".B_w16", e * r * n_out)          # bf16 copy of lora_B.weight (saved by lora_B)
            if g_in:
                save(mod + ".A_w16", e * r * n_in)       # bf16 copy of lora_A.weight (saved by lora_A)
            return True
        if p:
            save(mod + ".drop_out", ea * T * n_in)       # saved by lora_A (mm self)
            if g_in:
                save(mod + ".mask", ea * T * n_in)       # input * noise saves noise
        elif cast:
            save(mod + ".cast", ea * T * n_in)           # x.to(fp32), saved by lora_A
        else:
            save(in_key, e * T * n_in)                   # the input itself (shared)
        save(mod + ".A_out", ea * T * r)                 # saved by lora_B
        return True

    norm("in_norm", gin)
    g = {}
    for m in QKV:
        g[m] = adapter(m, h, "attn_in", gin) or gin
    gq, gk, gv = g["q_proj"], g["k_proj"], g["v_proj"]
    g_attn = gq or gk or gv
    if x["eager"]:
        if gk:
            save("q", e * T * a * d)
        if gq:
            save("k_rep", e * T * a * d)
        if gq or gk:
            save("softmax", 4 * b * a * s * s)
            save("v_rep", e * T * a * d)
        if gv:
            save("probs" if e != 4 else "softmax", (e if e != 4 else 4) * b * a * s * s)
        o_key = "o_in"  # transpose(1,2).contiguous() copy
    else:
        if g_attn:
            for key, nb in (("q", e * T * a * d), ("k", e * T * k * d), ("v", e * T * k * d),
                            ("attn_out", e * T * a * d), ("lse", 4 * b * a * s)):
                save(key, nb)
        o_key = "attn_out"
    g_o = adapter("o_proj", a * d, o_key, g_attn) or g_attn
    g_h2 = gin or g_o
    norm("post_norm", g_h2)
    if x["E"]:  # Mixtral: frozen router + experts, no adapters inside (not measured with any)
        if g_h2:
            for key, nb in moe_rules(x).items():
                save(key, nb)
        return sum(st.values()), g_h2, (gq or gk)
    gg = adapter("gate_proj", h, "mlp_in", g_h2) or g_h2
    gu = adapter("up_proj", h, "mlp_in", g_h2) or g_h2
    if gg:
        save("gate_out", e * T * i)   # silu input
        save("up_out", e * T * i)     # saved by the mul for silu_out's grad
    if gu:
        save("silu_out", e * T * i)   # saved by the mul for up_out's grad
    gd = adapter("down_proj", i, "prod", gg or gu) or gg or gu
    return sum(st.values()), g_h2 or gd, (gq or gk)


def moe_rules(x):
    T, h, i, e, E, K = (x[n] for n in "T h i e E K".split())
    S = T * K
    return {
        "router_softmax": 4 * T * E, "topk_idx": 8 * T * K, "topk_val": 4 * T * K, "topk_sum": 4 * T,
        "perm_idx": 24 * S, "routing_w": 4 * S, "offsets": 4 * E,
        "gate_up_out": 2 * e * S * i, "silu_out": e * S * i, "down_out": e * S * h,
    }


def pred_rules(c):
    x = ldims(c)
    T, h, e, s, d = x["T"], x["h"], x["e"], x["s"], x["d"]
    loss = F.loss_terms(x)
    if c["checkpointing"] != "off":
        return dict(embedding=0, per_layer=[e * T * h] * x["L"], final_norm=4 * T * h + 4 * T,
                    lm_head_and_loss=loss, other=0)
    per, g, rope = [], x["gin0"], False
    for li in range(x["L"]):
        nb, g, qk = rules_layer(c, x, g)
        per.append(nb)
        rope = rope or qk
    return dict(embedding=0, per_layer=per, final_norm=(4 * T * h + 4 * T) if g else 0,
                lm_head_and_loss=loss, other=2 * s * d * e if rope else 0)


# ------------------------------------------------------------------------------------------------
# allocator: alive after forward
# ------------------------------------------------------------------------------------------------

def pred_alive(c, saved_total):
    x = ldims(c)
    n_ad = len(x["tg"]) * x["L"]
    # wrapped Python scalars (8 B each, saved without the hooks): one per adapter ("* scaling"),
    # one per layer in eager attention ("* self.scaling"), only where the op's other input needs grad
    scal = 8 * n_ad + (8 * x["L"] if x["eager"] else 0)
    if c["checkpointing"] == "off":
        if not x["gin0"] and x["eager"] and not (x["tg"] & {"q_proj", "k_proj"}):
            scal -= 8  # layer 0 attention scores carry no grad -> no wrapped scalar saved
        alive = saved_total + 4 + scal
        if x["gin0"] and x["e"] != 4:
            # enable_input_require_grads makes the embedding output a grad-requiring leaf: its
            # AccumulateGrad node keeps it alive (e*T*h).  In fp32 it is the very tensor the first
            # RMSNorm saves (its .float() is a no-op), so it is already counted.
            alive += x["e"] * x["T"] * x["h"]
        return alive
    alive = saved_total + 4 + x["L"] * CPU_RNG_STATE + 2 * x["s"] * x["d"] * x["e"] + 8 * x["s"]
    if x["eager"]:
        alive += x["e"] * x["b"] * x["s"] ** 2  # 4-D additive mask kept by the checkpoint closures
    if c["checkpointing"] != "reentrant":
        alive += scal
    return alive


def pred_forward_peak(c):
    """Forward peak without checkpointing (always in nll_loss_forward here): alive + the logits
    (e*T*V, and their fp32 upcast 4*T*V for bf16) + the labels batch 8T and padded labels
    8b(s+1) (b > 1) as in full FT (findings §1.8), plus what full FT had in "alive" and LoRA does
    not: the input ids 8T (no longer saved by the embedding, still referenced) and the final-norm
    output e*T*h (no longer saved by lm_head, still referenced); plus the DynamicCache k/v copies
    of every layer whose attention did not save them: eager (saves the repeat_kv copies instead)
    all L layers, sdpa only a layer whose attention carried no grad (layer 0 with MLP-only
    adapters)."""
    x = ldims(c)
    T, V, e, b, s, h, k, d, L = (x[n] for n in "T V e b s h k d L".split())
    peak = c["alive_after_forward_bytes"] + e * T * V + (4 * T * V if e != 4 else 0) + 8 * T
    peak += 8 * b * (s + 1) if b > 1 else 0
    peak += 8 * T + e * T * h
    if x["eager"]:
        peak += L * 2 * e * T * k * d
    elif not x["gin0"] and not (x["tg"] & set(QKV)):
        peak += 2 * e * T * k * d
    if x["amp"] and not x["gin0"]:
        # autocast's weight-cast cache keeps the bf16 lora_A weight copies alive until the autocast
        # region ends, including those of layer 0's adapters whose input had no grad (not saved)
        first = QKV if x["tg"] & set(QKV) else MLP_IN
        peak += amp_weight_casts(x, True, first) - amp_weight_casts(x, False, first)
    return peak


def pred_trainable_bytes(c):
    """LoRA parameters: each adapted Linear(n_in, n_out) gets A (r x n_in) and B (n_out x r) in the
    adapter dtype."""
    x = ldims(c)
    shapes = proj_shapes(x)
    return x["L"] * sum(x["ea"] * x["r"] * sum(shapes[m]) for m in x["tg"])


def total(bd):
    return bd["embedding"] + sum(bd["per_layer"]) + bd["final_norm"] + bd["lm_head_and_loss"] + bd["other"]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "lora_measurements.json")
    data = json.load(open(path))
    cases = [c for c in data["cases"] if "error" not in c]
    errs = [c for c in data["cases"] if "error" in c]
    groups = {}
    bad = 0
    for c in cases:
        meas = c["breakdown"]
        mt = c["saved_bytes_total"]
        key = (c["architecture"], c["dtype"], c["attn_implementation"], c["checkpointing"], c["lora"]["targets"],
               "drop" if c["lora"]["lora_dropout"] else "", "fp32A" if c["adapter_dtype"] == "float32" else "",
               "inreq" if c["enable_input_require_grads_called"] else "",
               "amp" if c.get("autocast_forward") else "")
        gr = groups.setdefault(key, dict(n=0, total=0.0, comp=0.0, alive=0.0, rules=0.0))
        gr["n"] += 1
        for name, pred in (("delta", pred_delta(c)), ("rules", pred_rules(c))):
            pt = total(pred)
            rel = abs(pt - mt) / mt
            comp = 0
            for kk in ("embedding", "final_norm", "lm_head_and_loss", "other"):
                comp = max(comp, abs(pred[kk] - meas[kk]))
            for a_, b_ in zip(pred["per_layer"], meas["per_layer"]):
                comp = max(comp, abs(a_ - b_))
            if name == "delta":
                gr["total"] = max(gr["total"], rel)
                gr["comp"] = max(gr["comp"], comp)
            else:
                gr["rules"] = max(gr["rules"], rel + comp)
            if pt != mt or comp:
                bad += 1
                print(f"MISMATCH {name} {c['case_id']}: pred {pt} meas {mt}  pred {pred} meas {meas}")
        if c["checkpointing"] == "off":
            pk = pred_forward_peak(c)
            gr["peak"] = max(gr.get("peak", 0), abs(pk - c["forward_peak_bytes"]))
            if pk != c["forward_peak_bytes"]:
                bad += 1
                print(f"MISMATCH peak {c['case_id']}: pred {pk} meas {c['forward_peak_bytes']} "
                      f"diff {c['forward_peak_bytes'] - pk}")
        if pred_trainable_bytes(c) != c["trainable_param_bytes"] or c["lora_grad_bytes"] != c["trainable_param_bytes"]:
            bad += 1
            print(f"MISMATCH trainable {c['case_id']}: pred {pred_trainable_bytes(c)} meas {c['trainable_param_bytes']}")
        al = pred_alive(c, mt)
        gr["alive"] = max(gr["alive"], abs(al - c["alive_after_forward_bytes"]))
        if al != c["alive_after_forward_bytes"]:
            bad += 1
            print(f"MISMATCH alive {c['case_id']}: pred {al} meas {c['alive_after_forward_bytes']} "
                  f"diff {c['alive_after_forward_bytes'] - al}")
    print("columns: n cases; max relative error of the total (delta formula); max absolute error (bytes) of\n"
          "any breakdown component (delta formula); max relative+absolute error of the op-by-op rules;\n"
          "max absolute error (bytes) of alive-after-forward and (no checkpointing) of the forward peak")
    print(f"{'group':72s} {'n':>3s} {'tot_rel':>7s} {'comp_B':>6s} {'rules':>5s} {'alive_B':>7s} {'peak_B':>6s}")
    for key, gr in sorted(groups.items()):
        pk = f"{gr['peak']:6.0f}" if "peak" in gr else f"{'-':>6s}"
        print(f"{'|'.join(str(k) for k in key if k):72s} {gr['n']:3d} {gr['total']:7.2g} {gr['comp']:6.0f} "
              f"{gr['rules']:5.2g} {gr['alive']:7.0f} {pk}")
    print(f"{len(cases)} cases, {len(errs)} errored, {bad} mismatches")
    for c in errs:
        print("ERROR", c["case_id"], c["error"])
    sys.exit(1 if bad or errs else 0)


if __name__ == "__main__":
    main()
