import PlanModel

/// Transient working memory of an inference prefill (no autograd): the largest set of
/// intermediate tensors alive at once inside one layer, plus the logits.
public enum Prefill {
    public static func working(_ a: ModelArchitecture, batch: Int, seq: Int, elementBytes e: Int, tp: Int = 1, output: Bool = true) -> ActivationBytes {
        let t = batch * seq
        let h = a.hiddenSize
        let i = (a.intermediateSize + tp - 1) / tp
        let heads = max(a.heads / tp, 1)
        // Residual + normalized input + gate, up and their product (MLP) or q, k, v, out and the
        // fp32 logsumexp (attention), whichever is larger.
        let mlp = e * t * (2 * h + 3 * i)
        let attn = e * t * (2 * h + 2 * heads * a.headDim + 2 * max(a.kvHeads / tp, 1) * a.headDim) + 4 * batch * heads * seq
        var r = ActivationBytes()
        r.largestLayer = max(mlp, attn)
        r.layers = r.largestLayer
        // Serving computes logits for the last position of each sequence only (vLLM; transformers'
        // generate uses logits_to_keep=1), upcast to fp32 for sampling.
        if output { r.outputAndLoss = batch * ((a.vocabSize + tp - 1) / tp) * (e + 4) }
        return r
    }
}
