#!/usr/bin/env python3
"""Closed-form formulas for the bytes measured by measure.py, checked against measurements.json.

    python3 check_formulas.py [measurements.json]      (plain python3, no torch needed)

Prints, per group of cases, the maximum relative error of the formula vs. the measurement, for the
total and for every breakdown component, and exits non-zero if any training/KV case is not exact.
The formulas are written term by term; findings.md explains which op saves which tensor.

Symbols: b batch, s sequence, T = b*s tokens, h hidden, a attention heads, k kv heads, d head_dim,
i intermediate, V vocab, L layers, E experts, K experts per token, e bytes/element of the model dtype
(bf16 2, fp32 4).  fp32 upcasts inside the model always use 4 bytes.
"""
import json
import sys
from collections import defaultdict

CPU_RNG_STATE = 5056  # bytes of torch.get_rng_state() (CPU generator) kept per checkpointed layer


def dims(c):
    g = c["config"]
    b, s = c["batch"], c["seq"]
    return dict(b=b, s=s, T=b * s, h=g["hidden_size"], a=g["num_attention_heads"], k=g["num_key_value_heads"],
                d=g["head_dim"], i=g["intermediate_size"], V=g["vocab_size"], L=g["num_hidden_layers"],
                E=g["num_local_experts"], K=g["num_experts_per_tok"], e=2 if c["dtype"] == "bf16" else 4,
                W=g["sliding_window"], layer_types=g["layer_types"])


def family(arch):
    if arch.startswith("gemma2"):
        return "gemma2"
    if arch.startswith("gpt2"):
        return "gpt2"
    return "llama"  # llama, qwen2, mistral, phi3, mixtral share the decoder layout


# ------------------------------------------------------------------------------------------------
# Training: bytes saved for backward (no checkpointing)
# ------------------------------------------------------------------------------------------------

def rmsnorm_llama(x):
    # pow(2) and x*rsqrt save the fp32 copy of the input (the input itself in fp32): 4Th
    # rsqrt saves its (T,1) fp32 result: 4T;  weight * xhat.to(dtype) saves xhat in model dtype: eTh
    return 4 * x["T"] * x["h"] + 4 * x["T"] + x["e"] * x["T"] * x["h"]


def rmsnorm_gemma(x):
    # fp32 input copy 4Th, rsqrt 4T, fp32 normalized (saved by the "* (1+w)" mul) 4Th, and the
    # fp32 (1 + weight.float()) vector 4h (a fresh non-parameter tensor per norm call)
    return 8 * x["T"] * x["h"] + 4 * x["T"] + 4 * x["h"]


def loss_terms(x):
    # log_softmax of the fp32 logits (ForCausalLMLoss does logits.float(); no-op in fp32) 4TV,
    # shifted labels int64 8T (pad(labels,(0,1))[..., 1:].contiguous(): for b == 1 the slice is
    # already contiguous, so the padded (1, s+1) storage is what is saved: 8(s+1)),
    # nll_loss total_weight fp32 scalar 4
    tgt = 8 * x["T"] if x["b"] > 1 else 8 * (x["s"] + 1)
    return 4 * x["T"] * x["V"] + tgt + 4


def sliding_layer(c, x, li):
    lt = x["layer_types"]
    if lt:
        return lt[li] == "sliding_attention" and x["W"] is not None
    return x["W"] is not None


def llama_attention(c, x, li, use_cache):
    T, a, k, d, e, b, s = x["T"], x["a"], x["k"], x["d"], x["e"], x["b"], x["s"]
    arch = c["architecture"]
    if c["attn_implementation"] == "eager":
        # q (bmm self), repeat_kv(k) and repeat_kv(v) copies (bmm mat2), o_proj input copy: 4 e T a d
        # softmax(dtype=fp32) result 4 b a s^2; its .to(dtype) copy (bmm self) e b a s^2 unless fp32
        return 4 * e * T * a * d + 4 * b * a * s * s + (e * b * a * s * s if e != 4 else 0)
    masked = sliding_layer(c, x, li) and s >= x["W"]
    if not masked:
        # SDPA (CPU flash) with is_causal, enable_gqa=True (k/v not repeated):
        # q, k, v, out (shared with the o_proj input) + fp32 logsumexp (b, a, s)
        t = e * T * a * d + 2 * e * T * k * d + e * T * a * d + 4 * b * a * s
    else:
        # mask materialized -> HF repeats k/v (repeat_kv) and torch converts the bool mask to a
        # float (b,1,s,s) mask in the model dtype per call, which the kernel saves
        t = e * T * a * d + 2 * e * T * a * d + e * T * a * d + 4 * b * a * s + e * b * s * s
    if arch == "phi3":
        # Phi3's partial-rotary uses torch.cat -> q is (b,a,s,d)-contiguous -> the kernel output is
        # too -> o_proj input is a separate contiguous copy
        t += e * T * a * d
        if not use_cache:
            # v stays a strided view of the fused qkv output: the whole qkv storage is saved
            t += e * T * (a + 2 * k) * d - e * T * k * d
    return t


def llama_mlp(c, x):
    T, h, i, e = x["T"], x["h"], x["i"], x["e"]
    if x["E"]:
        E, K = x["E"], x["K"]
        S = T * K
        # router: input eTh (router mm), softmax fp32 4TE, topk indices int64 8TK, top values fp32 4TK,
        # their sum fp32 4T (in-place div saves both)
        router = e * T * h + 4 * T * E + 8 * T * K + 4 * T * K + 4 * T
        if c.get("experts_implementation") == "eager":
            # per-expert loop: nonzero() indices (n,2) int64 16S, gathered input eSh, gate_up output
            # 2eSi, silu output eSi, product eSi, routing weight fp32 4S, down output eSh, index_add
            # source eSh
            experts = S * (16 + 4 + 3 * e * h + 4 * e * i)
        else:
            # grouped_mm: 3 int64 permutation index tensors 24S, gathered input eSh, gate_up output
            # 2eSi, silu out eSi, product eSi, routing weights fp32 4S, down output eSh, offsets int32 4E
            experts = S * (24 + 4 + 2 * e * h + 4 * e * i) + 4 * E
        return router + experts
    # gate/up input eTh; act input (gate out), act output, up out, product (down input): 4 e T i
    return e * T * h + 4 * e * T * i


def pred_llama(c, x, use_cache):
    T, h, e = x["T"], x["h"], x["e"]
    per = []
    for li in range(x["L"]):
        per.append(2 * rmsnorm_llama(x) + e * T * h + llama_attention(c, x, li, use_cache) + llama_mlp(c, x))
    return dict(embedding=8 * T, per_layer=per, final_norm=rmsnorm_llama(x),
                lm_head_and_loss=e * T * h + loss_terms(x), other=2 * x["s"] * x["d"] * e)


def pred_gemma2(c, x, use_cache):
    T, h, a, d, i, e, b, s = x["T"], x["h"], x["a"], x["d"], x["i"], x["e"], x["b"], x["s"]
    soft = c["config"]["attn_logit_softcapping"] is not None
    attn = 4 * e * T * a * d + 4 * b * a * s * s + (e * b * a * s * s if e != 4 else 0) + \
        (e * b * a * s * s if soft else 0)  # + tanh result of the soft-capping
    layer = 4 * rmsnorm_gemma(x) + e * T * h + attn + e * T * h + 4 * e * T * i
    final_soft = c["config"]["final_logit_softcapping"] is not None
    return dict(embedding=8 * T, per_layer=[layer] * x["L"], final_norm=rmsnorm_gemma(x),
                lm_head_and_loss=e * T * h + (e * T * x["V"] if final_soft else 0) + loss_terms(x),
                other=2 * s * d * e)


def pred_gpt2(c, x, use_cache):
    T, h, a, i, e, b, s = x["T"], x["h"], x["a"], x["i"], x["e"], x["b"], x["s"]
    p = (c["config"]["dropout"]["resid"] or 0) > 0
    ln = e * T * h + 2 * e * T  # LayerNorm saves input + mean + rstd (CPU: in the input dtype)
    drop = e * T * h if p else 0  # CPU dropout keeps a mask in the input dtype
    if c["attn_implementation"] == "eager":
        # q, k, v operands of the two bmm's (copies made by matmul's reshape) 3eTh; special case b == 1
        # with the (default) cache: q stays a view of the fused c_attn output (whole 3h storage saved)
        # and k/v are the cache's contiguous copies -> 5eTh.  softmax result e b a s^2 (GPT-2 does not
        # upcast), with dropout: mask + dropped probs 2 e b a s^2; c_proj input eTh
        qkv = 5 * e * T * h if (b == 1 and use_cache) else 3 * e * T * h
        attn = qkv + e * b * a * s * s + (2 * e * b * a * s * s if p else 0) + e * T * h
    elif p:
        # CPU sdpa cannot do dropout in its flash kernel -> math path, upcast to fp32:
        # q, k^T, v fp32, softmax fp32, dropout mask fp32, dropped probs fp32; c_proj input separate
        attn = 12 * T * h + 12 * b * a * s * s + e * T * h
    else:
        # flash: q is a view of the fused c_attn output (whole 3h storage saved); with use_cache
        # DynamicCache hands back contiguous k/v copies which are saved; out shared with c_proj input
        attn = 3 * e * T * h + (2 * e * T * h if use_cache else 0) + e * T * h + 4 * b * a * s
    layer = 2 * ln + e * T * h + attn + drop + e * T * h + 5 * e * T * i + drop
    return dict(embedding=8 * T + 8 * s + drop, per_layer=[layer] * x["L"], final_norm=ln,
                lm_head_and_loss=e * T * h + loss_terms(x), other=0)


def pred_train_nogc(c):
    x = dims(c)
    uc = c.get("use_cache") is not False
    f = family(c["architecture"])
    return {"llama": pred_llama, "gemma2": pred_gemma2, "gpt2": pred_gpt2}[f](c, x, uc)


def wrapped_scalars(c, x):
    """Python numbers used in autograd ops become 8-byte 0-dim 'wrapped number' tensors that autograd
    saves WITHOUT calling saved_tensors_hooks (by design), so only the allocator sees them."""
    f, eager = family(c["architecture"]), c["attn_implementation"] == "eager"
    if f == "gpt2":
        per, root = (8 if eager else 0) + 24, 0  # attn '* scaling'; gelu_new's 0.5, 0.044715, sqrt(2/pi)
    elif f == "gemma2":
        soft = c["config"]["attn_logit_softcapping"] is not None
        per = 8 + (16 if soft else 0)  # '* scaling' (+ '/ cap', '* cap')
        root = 16 if c["config"]["final_logit_softcapping"] is not None else 0
    else:
        per, root = (8 if eager else 0), 0
    return x["L"] * per, root


def pred_train(c):
    """Returns (predicted breakdown of saved bytes, predicted alive-after-forward bytes)."""
    x = dims(c)
    nogc = pred_train_nogc(dict(c, checkpointing="off"))
    scal_layers, scal_root = wrapped_scalars(c, x)
    scal = scal_layers + scal_root
    if c["checkpointing"] == "off":
        saved = nogc
        alive = total(saved) + 4 + scal  # + the loss scalar
        return saved, alive
    T, h, e, b, s = x["T"], x["h"], x["e"], x["b"], x["s"]
    f = family(c["architecture"])
    eager = c["attn_implementation"] == "eager"
    # Checkpointed layers keep only their input hidden state (eTh) -- seen by the hook in both modes
    saved = dict(nogc, per_layer=[e * T * h] * x["L"], other=0)
    if f == "gpt2" and eager:
        saved["other"] = e * b * s * s  # GPT-2 passes the 4-D mask positionally -> saved by checkpoint
    # non-reentrant: the forward runs with grad on, and wrapped numbers bypass the checkpoint's
    # saved_tensors_hooks, so they stay in the (otherwise empty) graph; reentrant runs under no_grad
    if c["checkpointing"] == "reentrant":
        scal = scal_root
    alive = total(saved) + 4 + scal + x["L"] * CPU_RNG_STATE
    if f != "gpt2":
        # the checkpoint closures also keep the kwargs alive: cos/sin and position_ids (1,s) int64
        alive += 2 * s * x["d"] * e + 8 * s
        if eager:
            # 4-D additive float mask (b,1,s,s) in the model dtype, one per distinct mask type
            n_masks = len(set(x["layer_types"])) if x["layer_types"] else 1
            alive += n_masks * e * b * s * s
        elif x["W"] is not None and s >= x["W"]:
            alive += s * s  # sdpa: boolean (1,1,s,s) sliding-window mask
    return saved, alive


def total(bd):
    return bd["embedding"] + sum(bd["per_layer"]) + bd["final_norm"] + bd["lm_head_and_loss"] + bd["other"]


# ------------------------------------------------------------------------------------------------
# KV cache
# ------------------------------------------------------------------------------------------------

def pred_kv(c, extra_tokens=0):
    """Storage bytes held by the DynamicCache after a prefill of s tokens (extra_tokens=0) or after
    `extra_tokens` further decode steps."""
    x = dims(c)
    b, s, k, d, e = x["b"], x["s"], x["k"], x["d"], x["e"]
    n = s + extra_tokens
    tot = 0
    for li in range(x["L"]):
        if sliding_layer(c, x, li) and extra_tokens > 0:
            # DynamicSlidingWindowLayer: cat(kept W-1 tokens, new) then keeps a (W-1)-token view of
            # that W-token storage -> W tokens of storage in steady state (plus an 8-byte int64 scalar
            # tensor holding the window, not a key/value tensor, not counted here)
            tot += 2 * b * k * min(n, x["W"]) * d * e
        else:
            # full layers: k/v (b, k, n, d) each.  Sliding layers right after the prefill: the kept
            # (W-1)-token view still pins the whole (b, k, s, d) prefill storage.
            tot += 2 * b * k * n * d * e
    return tot


def pred_train_forward_peak(c):
    """Training forward peak (no checkpointing), reached in nll_loss: everything saved so far +
    the model-dtype logits eTV (lm_head output, still referenced) + their fp32 upcast 4TV (bf16 only;
    log_softmax's own fp32 output is already part of the saved bytes) + the labels batch 8T + the
    padded labels 8b(s+1) (b > 1; for b == 1 it is the saved target) + the DynamicCache k/v when the
    attention saved other tensors than the cache's (eager with GQA repeat, SDPA with a materialized
    mask, GPT-2's CPU math path)."""
    x = dims(c)
    b, s, T, h, k, d, V, e, L, a = (x[n] for n in "b s T h k d V e L a".split())
    _, alive = pred_train(c)
    peak = alive + e * T * V + (4 * T * V if e != 4 else 0) + 8 * T + (8 * b * (s + 1) if b > 1 else 0)
    f = family(c["architecture"])
    uc = c.get("use_cache") is not False
    eager = c["attn_implementation"] == "eager"
    if uc:
        if f == "gpt2":
            p = (c["config"]["dropout"]["resid"] or 0) > 0
            if not eager and p:
                # CPU math path (sdpa + dropout): bf16 -> saves fp32 upcasts, both cache k and v are
                # extra; fp32 -> one of the two cache tensors is saved as is, the other is not
                peak += L * (2 if e != 4 else 1) * e * T * h
        else:
            # each DynamicSlidingWindowLayer holds an 8-byte int64 window tensor
            peak += 8 * sum(1 for li in range(L) if sliding_layer(c, x, li))
            if (eager and k < a) or (not eager and x["W"] is not None and s >= x["W"]):
                peak += L * 2 * e * T * k * d
    return peak


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "measurements.json"
    data = json.load(open(path))
    groups = defaultdict(lambda: dict(n=0, max_total=0.0, max_alive=0.0, max_comp=0.0, worst=None))
    bad = 0
    for c in data["cases"]:
        if "error" in c:
            continue
        if c["kind"] == "train":
            saved, alive = pred_train(c)
            key = (c["kind"], c["architecture"], c["dtype"], c["attn_implementation"], c["checkpointing"],
                   "uc=F" if c.get("use_cache") is False else "", c.get("experts_implementation") or "")
            g = groups[key]
            g["n"] += 1
            m = c["saved_bytes_total"]
            err = abs(total(saved) - m) / m
            aerr = abs(alive - c["alive_after_forward_bytes"]) / c["alive_after_forward_bytes"]
            comp = 0.0
            for name in ("embedding", "final_norm", "lm_head_and_loss", "other"):
                mv, pv = c["breakdown"][name], saved[name]
                comp = max(comp, abs(mv - pv) / max(mv, 1))
            for mv, pv in zip(c["breakdown"]["per_layer"], saved["per_layer"]):
                comp = max(comp, abs(mv - pv) / max(mv, 1))
            if err > g["max_total"]:
                g["worst"] = (c["case_id"], m, total(saved))
            g["max_total"] = max(g["max_total"], err)
            g["max_alive"] = max(g["max_alive"], aerr)
            if c["checkpointing"] == "off":
                fp = pred_train_forward_peak(c)
                g["max_fpeak"] = max(g.get("max_fpeak", 0.0), abs(fp - c["forward_peak_bytes"]) / c["forward_peak_bytes"])
            g["max_comp"] = max(g["max_comp"], comp)
            if err > 0 or comp > 0:
                bad += 1
        elif c["kind"] == "kv":
            key = (c["kind"], c["architecture"], c["dtype"])
            g = groups[key]
            g["n"] += 1
            p, m = pred_kv(c), c["kv_cache_bytes"]
            err = abs(p - m) / m
            for step in (1, 2):
                if f"after_{step}_decode" in c:
                    m2 = c[f"after_{step}_decode"]["kv_cache_bytes"]
                    err = max(err, abs(pred_kv(c, step) - m2) / m2)
            if err > g["max_total"]:
                g["worst"] = (c["case_id"], m, p)
            g["max_total"] = max(g["max_total"], err)
            if err > 0:
                bad += 1
    print("max relative error per group: saved = saved_bytes_total (kv: kv_cache_bytes after prefill and\n"
          "after 1 and 2 decode steps), parts = worst breakdown component, alive = alive_after_forward_bytes,\n"
          "fpeak = forward_peak_bytes (training without checkpointing)")
    print(f"{'group':72s} {'n':>3s} {'saved':>9s} {'parts':>9s} {'alive':>9s} {'fpeak':>9s}")
    for key, g in sorted(groups.items()):
        fpk = f"{g['max_fpeak']:9.2e}" if "max_fpeak" in g else f"{'-':>9s}"
        print(f"{'|'.join(str(k) for k in key if k):72s} {g['n']:3d} {g['max_total']:9.2e} {g['max_comp']:9.2e} "
              f"{g['max_alive']:9.2e} {fpk}" + (f"  worst={g['worst']}" if g["max_total"] > 0 else ""))
    rows = check_prefill(data)
    print(f"prefill: {len(rows)} cases, max |pred - measured| = {max(abs(r[2] - r[1]) for r in rows)} bytes, "
          f"max relative error = {max(abs(r[4]) for r in rows):.2e}")
    print(f"training/kv cases not exact: {bad}")
    sys.exit(1 if bad else 0)



# ------------------------------------------------------------------------------------------------
# Inference prefill (torch.no_grad, model.eval): peak live non-parameter bytes = max over phases
# ------------------------------------------------------------------------------------------------

def prefill_phases(c):
    """Live bytes at the candidate peak points of a prefill forward (layer index >= 1, i.e. the
    embedding output and the layer input are distinct tensors).  Returns {phase: bytes}."""
    x = dims(c)
    b, s, T, h, a, k, d, i, V, e, L = (x[n] for n in "b s T h a k d i V e L".split())
    f = family(c["architecture"])
    eager = c["attn_implementation"] == "eager"
    uc = c["use_cache"]
    n_logits = c["logits_to_keep"] or s
    kv_layer = 2 * b * k * s * d * e
    ph = {}
    if f == "gpt2":
        # wte output, wpe output (1,s,h), position_ids; per block: block input, attn output, residual
        # sum, ln_2 output; gelu_new (python): input, 0.5*x, (1+tanh(..)), result -> 4 eTi
        base = e * T * h + e * s * h + 8 * s
        ph["mlp"] = base + 4 * e * T * h + 4 * e * T * i + (L * kv_layer if uc else 0)
        ph["logits"] = e * T * h + e * b * n_logits * V + (L * kv_layer if uc else 0)
        return ph
    rope = 2 * s * d * e + 8 * s  # cos, sin (1,s,d) and position_ids (1,s) int64
    n_masks = 0
    mask = 0
    if eager:
        n_masks = len(set(x["layer_types"])) if x["layer_types"] else 1
        mask = n_masks * e * b * s * s  # additive (b,1,s,s) masks in the model dtype
    elif x["W"] is not None and s >= x["W"]:
        mask = s * s  # boolean (1,1,s,s)
    B = 2 * e * T * h + rope + mask  # embedding output + current layer input
    n_sliding = sum(1 for li in range(L) if sliding_layer(c, x, li))
    # DynamicSlidingWindowLayer also holds an int64 scalar tensor with the window size
    kv_prev = ((L - 1) * kv_layer + 8 * n_sliding) if uc else 0
    kv_all = (L * kv_layer + 8 * n_sliding) if uc else 0
    # eager attention returns its probabilities, which the decoder layer keeps in the local `_`
    # (`hidden_states, _ = self.self_attn(...)`) until the layer returns: alive during the MLP
    probs = e * b * a * s * s if eager else 0
    if x["E"]:
        E, K = x["E"], x["K"]
        S = T * K
        # residual sum + norm output; gathered tokens eSh; gate_up output 2eSi + silu eSi + product eSi;
        # router logits eTE, top-k values fp32 4TK + indices 8TK; sorted ids / perm int64 16S,
        # sample weights fp32 4S, histc input fp32 4S, histc/cumsum 8E
        ph["mlp"] = B + 2 * e * T * h + e * S * h + 4 * e * S * i + e * T * E + 12 * T * K + 24 * S + 8 * E + \
            probs + kv_all
    else:
        # residual sum + norm output + silu(gate) + up + product (gate output already freed)
        ph["mlp"] = B + 2 * e * T * h + 3 * e * T * i + probs + kv_all
    rep = 2 * e * T * a * d if k < a else 0
    if eager:
        # at softmax(dtype=fp32): scores in model dtype, their fp32 copy (bf16 only) and fp32 result
        sm = (e + 4 + (4 if e != 4 else 0)) * b * a * s * s
        ph["attn_eager"] = B + e * T * h + e * T * a * d + 2 * e * T * k * d + rep + sm + kv_prev
    else:
        masked = x["W"] is not None and s >= x["W"]
        ph["attn_sdpa"] = B + e * T * h + 2 * e * T * a * d + 2 * e * T * k * d + e * T * h + \
            ((rep + e * b * s * s) if masked else 0) + kv_prev
    soft = 2 if (f == "gemma2" and c["config"]["final_logit_softcapping"] is not None) else 1
    # after the base model returned only last_hidden_state (eTh) survives; soft-capping: logits and
    # logits/cap coexist
    ph["logits"] = e * T * h + soft * e * b * n_logits * V + kv_all
    return ph


def check_prefill(data):
    rows = []
    for c in data["cases"]:
        if c["kind"] != "prefill" or "error" in c:
            continue
        ph = prefill_phases(c)
        pk = max(ph.values())
        m = c["peak_bytes"]
        rows.append((c["case_id"], m, pk, max(ph, key=ph.get), (pk - m) / m, c["peak_at"]))
    return rows


if __name__ == "__main__":
    main()
