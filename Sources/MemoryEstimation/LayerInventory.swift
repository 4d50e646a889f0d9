import PlanModel

/// The parameters of one decoder layer, tensor by tensor, for the families whose layers differ
/// from the uniform Llama block: latent attention, routed and shared experts placed on some layers,
/// q/k norms, attention sinks and biases. Every count follows the family's modeling file in
/// transformers 5.24 (`models/<family>/modeling_<family>.py`; docs/estimator.md §1, "Families") and
/// is checked against the parameters transformers instantiates (docs/calibration/families).
///
/// Tensor parallelism follows vLLM's layers: column- and row-parallel weights (`sharded`) are split
/// over `tp`; k and v projections hold `max(kv_heads / tp, 1)` heads (`perKVHead`); norms, routers,
/// MLA's down-projections (`ReplicatedLinear` in vLLM's deepseek_v2.py) and row-parallel biases are
/// whole on every GPU (`replicated`).
public struct LayerParams: Sendable, Equatable {
    public var sharded = 0
    public var perKVHead = 0
    public var replicated = 0
    /// Of all of these, weights of projection matrices (what weight quantization applies to).
    public var linear = 0
    /// Parameters of the routed experts a token does not use (for active parameters).
    public var inactive = 0
    /// Of `linear`: the routed experts' projection weights (what MXFP4 checkpoints quantize).
    public var expertLinear = 0

    public func total(kvHeads: Int) -> Int { sharded + perKVHead * kvHeads + replicated }

    /// Parameters on one GPU of a `tp`-way split.
    public func perGPU(kvHeads: Int, tp: Int) -> Int {
        (sharded + tp - 1) / tp + perKVHead * max(kvHeads / tp, 1) + replicated
    }

    public func linearPerGPU(kvHeads: Int, tp: Int, linearKVPerHead: Int) -> Int {
        (linear - linearKVPerHead * kvHeads + tp - 1) / tp + linearKVPerHead * max(kvHeads / tp, 1)
    }
}

public enum LayerInventory {
    /// Layer `l` of `a` (which `usesInventory`).
    public static func layer(_ a: ModelArchitecture, _ l: Int) -> LayerParams {
        var p = LayerParams()
        let h = a.hiddenSize
        let normSize = a.norm == .rms ? h : 2 * h
        // Attention.
        if let m = a.latent {
            let heads = a.heads
            let bias = m.bias
            if let r = m.qLoraRank {
                p.replicated += h * r + (bias ? r : 0) + r  // q_a_proj (+ bias), q_a_layernorm
                p.sharded += r * heads * m.qkHeadDim  // q_b_proj
                p.linear += h * r + r * heads * m.qkHeadDim
            } else {
                p.sharded += h * heads * m.qkHeadDim  // q_proj
                p.linear += h * heads * m.qkHeadDim
            }
            let kvA = m.kvLoraRank + m.qkRopeHeadDim
            p.replicated += h * kvA + (bias ? kvA : 0) + m.kvLoraRank  // kv_a_proj_with_mqa, kv_a_layernorm
            p.sharded += m.kvLoraRank * heads * (m.qkNopeHeadDim + m.vHeadDim)  // kv_b_proj
            p.sharded += heads * m.vHeadDim * h  // o_proj
            p.replicated += bias ? h : 0
            p.linear += h * kvA + m.kvLoraRank * heads * (m.qkNopeHeadDim + m.vHeadDim) + heads * m.vHeadDim * h
        } else {
            let q = a.queryWidth
            p.sharded += 2 * h * q  // q_proj, o_proj
            p.perKVHead += 2 * h * a.headDim  // k_proj, v_proj
            p.linear += 2 * h * q + 2 * h * a.kvWidth
            if a.qkvBias {
                p.sharded += q
                p.perKVHead += 2 * a.headDim
            }
            if a.outputBias { p.replicated += h }
        }
        p.replicated += a.qkNormPerLayer
        p.sharded += a.sinksPerLayer
        p.replicated += a.normsPerLayer * normSize
        // MLP.
        let mats = a.mlp == .gated ? 3 : 2
        func denseMLP(_ i: Int, bias: Bool) {
            p.sharded += mats * h * i
            p.linear += mats * h * i
            if bias {
                p.sharded += (mats - 1) * i
                p.replicated += h
            }
        }
        if let moe = a.moe, l < moe.sparse.count, moe.sparse[l] {
            let i = moe.expertIntermediate
            var expert = 3 * h * i
            if moe.expertBias { expert += 2 * i + h }
            p.sharded += moe.experts * expert
            p.linear += moe.experts * 3 * h * i
            p.expertLinear += moe.experts * 3 * h * i
            p.inactive += (moe.experts - moe.expertsPerToken) * expert
            // DeepSeek-V3's e_score_correction_bias is a buffer (`register_buffer`), not a parameter.
            p.replicated += h * moe.experts + (moe.routerBias ? moe.experts : 0)
            if moe.sharedIntermediate > 0 { denseMLP(moe.sharedIntermediate, bias: false) }
            if moe.sharedGate { p.replicated += h }
        } else {
            denseMLP(a.intermediateSize, bias: a.mlpBias)
        }
        return p
    }

    /// Every layer of `a`.
    public static func layers(_ a: ModelArchitecture) -> [LayerParams] { (0..<a.layers).map { layer(a, $0) } }
}
