import PlanModel

/// Transient working memory of an inference prefill (`torch.no_grad()`): the largest live total of
/// non-parameter, non-cache tensors during the forward, as measured on transformers 5.24
/// (docs/calibration/findings.md §4; 108 cases within 12 bytes). It is the largest of these phases:
///
/// - baseline B = 2eTh (embedding output and layer input) + 2sde + 8s (cos/sin, position ids) + masks
/// - MLP: B + 2eTh + 3eTi (+ the eager attention probabilities e·b·a·s², still referenced)
/// - eager attention: B + eTh + eTad + 2eTkd (+ 2eTad repeated k/v for GQA) + (e + 4 + 4[e≠4])·b·a·s²
/// - fused attention: B + 2eTh + 2eTad + 2eTkd (+ repeated k/v and a bool mask when a window mask is built)
/// - logits: eTh + e·b·n·V for n kept positions (serving keeps 1: vLLM, `generate`'s logits_to_keep=1)
public enum Prefill {
    public static func working(
        _ a: ModelArchitecture, batch b: Int, seq s: Int, elementBytes e: Int, attention: AttentionImplementation = .flash,
        tp: Int = 1, output: Bool = true, logitsPositions: Int? = 1
    ) -> ActivationBytes {
        let t = b * s
        let h = a.hiddenSize
        let d = a.headDim
        let i = (a.intermediateSize + tp - 1) / tp
        let heads = max(a.heads / tp, 1)
        let kv = max(a.kvHeads / tp, 1)
        let v = (a.vocabSize + tp - 1) / tp
        let probs = b * heads * s * s
        let eager = attention == .eager || Activations.family(a) == .gemma2
        let hasSliding = a.slidingLayers.contains(true) && a.slidingWindow != nil
        let hasFull = a.slidingLayers.contains(false)
        var phases: [Int] = []
        var r = ActivationBytes()

        if Activations.family(a) == .gpt2 {
            // Python gelu_new at its final mul: wte and wpe outputs, position ids, block input, attention
            // output, residual sum, ln_2 output, and the MLP's input, 0.5x, 1 + tanh and result.
            phases.append(e * t * h + e * s * h + 8 * s + 4 * e * t * h + 4 * e * t * i)
            if attention == .eager {
                phases.append(e * t * h + e * s * h + 8 * s + 2 * e * t * h + 3 * e * t * h + 2 * e * probs)
            }
        } else {
            var masks = 0
            var windowMask = false
            if eager {
                masks = ((hasSliding ? 1 : 0) + (hasFull ? 1 : 0)) * e * b * s * s
            } else if hasSliding && s >= (a.slidingWindow ?? Int.max) && attention == .sdpa {
                masks = s * s
                windowMask = true
            }
            let base = 2 * e * t * h + 2 * s * d * e + 8 * s + masks
            if a.isMoE {
                let k = a.expertsPerToken
                let routed = t * k
                phases.append(
                    base + 2 * e * t * h + e * routed * h + 4 * e * routed * i + e * t * a.experts + 12 * t * k + 24 * routed
                        + 8 * a.experts + (eager ? e * probs : 0))
            } else {
                phases.append(base + 2 * e * t * h + 3 * e * t * i + (eager ? e * probs : 0))
            }
            if eager {
                let repeated = kv < heads ? 2 * e * t * heads * d : 0
                phases.append(base + e * t * h + e * t * heads * d + 2 * e * t * kv * d + repeated + (e + 4 + (e != 4 ? 4 : 0)) * probs)
            } else {
                let repeated = windowMask ? 2 * e * t * heads * d : 0
                phases.append(base + 2 * e * t * h + 2 * e * t * heads * d + 2 * e * t * kv * d + repeated)
            }
        }
        r.largestLayer = phases.max() ?? 0
        r.layers = r.largestLayer
        if output {
            let n = min(logitsPositions ?? s, s)
            let softcap = (Activations.family(a) == .gemma2 && a.finalLogitSoftcap != nil) ? 2 : 1
            let logits = e * t * h + softcap * e * b * n * v
            if logits > r.layers {
                r.outputAndLoss = logits - r.layers
            }
        }
        return r
    }
}
