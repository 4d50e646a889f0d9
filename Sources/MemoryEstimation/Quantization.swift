import PlanModel

/// Weights of a checkpoint quantized as its `config.json`'s `quantization_config` says, from the
/// config alone (no checkpoint files). Each format's bytes follow its storage layout:
///
/// - `fp8` with `weight_block_size` [bo, bi] (DeepSeek-V3, transformers `FP8Linear` /
///   `finegrained_fp8.py`): 1 byte per weight of every decoder projection plus an fp32
///   `weight_scale_inv` per bo x bi block; per-tensor or per-channel fp8: 1 byte per weight (the
///   scales are a few bytes per tensor or row).
/// - `mxfp4` (gpt-oss, transformers `integrations/mxfp4.py`): the routed experts' weights in 4-bit
///   blocks of 32 (`*_blocks`, U8, 16 bytes per 32 values) with one 8-bit scale per block
///   (`*_scales`): 0.5 + 1/32 bytes per weight; attention, router, embeddings and head stay 16-bit
///   (its `modules_to_not_convert`).
/// - `gptq`, `awq`: `bits`/8 bytes per weight plus an fp16 scale and a packed zero point per
///   `group_size` weights.
/// - `bitsandbytes`: NF4 (4.127 bits, `WeightStorage.nf4BytesPerWeight`) or int8 (1 byte + an
///   fp32 scale per row, negligible).
/// - `compressed-tensors`: the first weight scheme's `num_bits` and `group_size`.
///
/// What is not a decoder projection (embeddings, output layer, norms, routers, biases) stays in
/// 16 bits, as every one of these formats keeps it.
public struct QuantizedWeights: Sendable, Equatable {
    public var method: String
    /// Bytes per quantized weight, scales included.
    public var bytesPerWeight: Double
    /// Whether only the routed experts are quantized.
    public var expertsOnly: Bool
    /// One line for the assumptions.
    public var description: String

    /// The layout `config.json` declares, or nil without `quantization_config`; an unknown method
    /// is an error that names it.
    public static func from(config: JSONValue) throws -> QuantizedWeights? {
        guard case .object(let q)? = config["quantization_config"] ?? config["text_config"]?["quantization_config"] else { return nil }
        func int(_ k: String) -> Int? { if case .int(let i)? = q[k] { i } else { nil } }
        func string(_ k: String) -> String? { if case .string(let s)? = q[k] { s } else { nil } }
        let method = string("quant_method") ?? ""
        switch method {
        case "fp8":
            if case .array(let block)? = q["weight_block_size"], block.count == 2, case .int(let bo) = block[0], case .int(let bi) = block[1],
                bo > 0, bi > 0
            {
                return QuantizedWeights(
                    method: "fp8", bytesPerWeight: 1 + 4 / Double(bo * bi), expertsOnly: false,
                    description: "fp8 weights in \(bo)x\(bi) blocks with an fp32 scale each (quantization_config)")
            }
            return QuantizedWeights(
                method: "fp8", bytesPerWeight: 1, expertsOnly: false, description: "fp8 weights, per-tensor or per-channel scales (quantization_config)")
        case "mxfp4":
            return QuantizedWeights(
                method: "mxfp4", bytesPerWeight: 0.5 + 1.0 / 32, expertsOnly: true,
                description: "MXFP4 experts: 4-bit values with an 8-bit scale per 32 (quantization_config); the rest 16-bit")
        case "gptq", "awq":
            let bits = int("bits") ?? int("w_bit") ?? 4
            let group = int("group_size") ?? int("q_group_size") ?? 128
            let perGroup = group > 0 ? (2 + Double(bits) / 8) / Double(group) : 0
            return QuantizedWeights(
                method: method, bytesPerWeight: Double(bits) / 8 + perGroup, expertsOnly: false,
                description: "\(method) \(bits)-bit weights, groups of \(group) with an fp16 scale and a packed zero point (quantization_config)")
        case "bitsandbytes":
            if case .bool(true)? = q["load_in_8bit"] {
                return QuantizedWeights(method: "bitsandbytes", bytesPerWeight: 1, expertsOnly: false, description: "bitsandbytes int8 weights")
            }
            return QuantizedWeights(
                method: "bitsandbytes", bytesPerWeight: WeightStorage.nf4BytesPerWeight, expertsOnly: false,
                description: "bitsandbytes 4-bit weights with double quantization (4.127 bits)")
        case "compressed-tensors":
            if case .object(let groups)? = q["config_groups"], let first = groups.keys.sorted().first,
                case .object(let w)? = groups[first]?["weights"], case .int(let bits)? = w["num_bits"]
            {
                var perGroup = 0.0
                if case .int(let g)? = w["group_size"], g > 0 { perGroup = 2 / Double(g) }
                return QuantizedWeights(
                    method: method, bytesPerWeight: Double(bits) / 8 + perGroup, expertsOnly: false,
                    description: "compressed-tensors \(bits)-bit weights (quantization_config)")
            }
            throw ConfigError.quantization("compressed-tensors without config_groups[...].weights.num_bits; plan cannot size its weights")
        default:
            throw ConfigError.quantization(
                "quant_method '\(method)' is not one plan sizes; known: fp8, mxfp4, gptq, awq, bitsandbytes, compressed-tensors "
                    + "(or pass --dtype to size the weights yourself)")
        }
    }

    /// Bytes of the whole model's weights; with `includeMTP`, also the multi-token-prediction
    /// modules (their embedding and head in 16 bits, the rest as the format stores projections).
    public func bytes(_ a: ModelArchitecture, includeMTP: Bool = false) -> Int {
        let p = ParameterCount(a)
        var quantized = expertsOnly ? p.expertLinearWeights : p.linearWeights
        var plain = p.total - quantized
        if includeMTP && p.mtp > 0 {
            let embeddingAndHead = a.mtpLayers * 2 * a.vocabSize * a.hiddenSize
            plain += embeddingAndHead
            quantized += p.mtp - embeddingAndHead
        }
        return Int((Double(quantized) * bytesPerWeight).rounded(.up)) + plain * 2
    }
}
