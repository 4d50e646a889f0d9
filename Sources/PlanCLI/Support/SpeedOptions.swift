import ArgumentParser
import Foundation
import MemoryEstimation
import PlanCore
import PlanModel

extension ServingEngine: ExpressibleByArgument {}
extension VLLMSampler: ExpressibleByArgument {}

/// The serving engine, the speed assumptions, and the work (tokens to train, traffic to serve),
/// shared by `plan estimate` and `plan job add`.
struct SpeedOptions: ParsableArguments {
    @Option(help: "Serving engine whose memory accounting to follow: transformers (default) or vllm (V1).")
    var engine: ServingEngine = .transformers
    @Option(name: .customLong("max-model-len"), parsing: .unconditional, help: "vLLM: the longest request (default: the model's max_position_embeddings).")
    var maxModelLen: Int?
    @Option(
        name: .customLong("max-num-batched-tokens"), parsing: .unconditional,
        help: "vLLM: tokens per scheduler step, the profiling forward's size (default by GPU memory: 16384 from 160 GiB, 8192 from 70 GiB except A100, else 2048).")
    var maxNumBatchedTokens: Int?
    @Option(name: .customLong("max-num-seqs"), parsing: .unconditional, help: "vLLM: sequences per step (default 1024 from 70 GiB except A100, else 256).")
    var maxNumSeqs: Int?
    @Option(name: .customLong("block-size"), parsing: .unconditional, help: "vLLM: tokens per KV block (default 16; 64 for latent attention).")
    var blockSize: Int?
    @Flag(name: .customLong("enforce-eager"), help: "vLLM: no CUDA graphs (and no graph memory).")
    var enforceEager = false
    @Option(
        name: .customLong("vllm-sampler"),
        help: """
            vLLM: the top-k/top-p path its start-up profiles, which sets the sampler's share of the peak: flashinfer (default; \
            vLLM 0.34 and later, and Docker images up to 0.11.0: "Using FlashInfer for top-p & top-k sampling"), triton (0.17 \
            to 0.33), or pytorch (the sort-based path, 36 bytes a logit against 12: 0.11.1 to 0.16, V0, and pip installs up to \
            0.11.0 whose log says "Falling back to the PyTorch-native implementation").
            """)
    var vllmSampler: VLLMSampler?

    @Option(name: .customLong("mem-efficiency"), help: "Fraction of peak memory bandwidth decode reaches (default 0.7).")
    var memEfficiency: Double?
    @Option(name: .customLong("prefill-mfu"), help: "Fraction of the dense tensor peak prefill reaches (default 0.5).")
    var prefillMFU: Double?
    @Option(name: .customLong("mfu"), help: "Fraction of the dense tensor peak training reaches, recomputation included (default 0.4).")
    var mfu: Double?
    @Option(name: .customLong("network-efficiency"), help: "Fraction of link bandwidth collectives reach (default 0.7).")
    var networkEfficiency: Double?

    @Option(name: .customLong("train-tokens"), help: "Tokens to train on, e.g. 2B, 15T or 1e9: gives the time, GPU-hours and cost of the run.")
    var trainTokens: String?
    @Option(name: .customLong("dataset-tokens"), help: "Tokens in the dataset (with --epochs, instead of --train-tokens).")
    var datasetTokens: String?
    @Option(name: .customLong("epochs"), help: "Passes over --dataset-tokens (default 1).")
    var epochs: Double?
    @Option(name: .customLong("deadline"), help: "Longest a run may take, e.g. 24h, 3d, 90m: keeps only the configurations that meet it.")
    var deadline: String?

    @Option(name: .customLong("users"), parsing: .unconditional, help: "Serve this many users at once (with --context and --tokens-per-s).")
    var users: Int?
    @Option(name: .customLong("context"), parsing: .unconditional, help: "Tokens of context each user holds (prompt and output).")
    var context: Int?
    @Option(name: .customLong("tokens-per-s"), help: "Output tokens per second each user reads.")
    var tokensPerS: Double?
    @Option(name: .customLong("ttft"), help: "Longest time to first token in seconds for a --context-token prompt.")
    var ttft: Double?
    @Option(name: .customLong("amortize"), help: "Price a GPU-hour by its purchase price over this period (e.g. 3y) instead of on demand.")
    var amortize: String?

    func request(mode: Mode) throws -> SpeedRequest {
        var r = SpeedRequest()
        r.engine = engine
        if engine != .vllm {
            for (flag, given) in [
                ("--max-model-len", maxModelLen != nil), ("--max-num-batched-tokens", maxNumBatchedTokens != nil),
                ("--max-num-seqs", maxNumSeqs != nil), ("--block-size", blockSize != nil), ("--enforce-eager", enforceEager),
                ("--vllm-sampler", vllmSampler != nil),
            ] where given {
                throw PlanError.usage("\(flag) is a vLLM setting; add --engine vllm")
            }
        }
        for (flag, value) in [
            ("--max-model-len", maxModelLen), ("--max-num-batched-tokens", maxNumBatchedTokens), ("--max-num-seqs", maxNumSeqs),
            ("--block-size", blockSize), ("--users", users), ("--context", context),
        ] {
            if let v = value, !(1...100_000_000).contains(v) {
                throw PlanError.usage("invalid \(flag) \(v); expected a whole number from 1 to 100000000")
            }
        }
        r.vllm = VLLMSettings(
            maxModelLen: maxModelLen, maxNumBatchedTokens: maxNumBatchedTokens, maxNumSeqs: maxNumSeqs, blockSize: blockSize,
            enforceEager: enforceEager, sampler: vllmSampler)
        func fraction(_ flag: String, _ v: Double?, _ set: (Double) -> Void) throws {
            guard let v else { return }
            guard v > 0 && v <= 1 else { throw PlanError.usage("invalid \(flag) \(v); expected a fraction above 0 and at most 1, e.g. 0.5") }
            set(v)
        }
        try fraction("--mem-efficiency", memEfficiency) { r.efficiencies.memoryBandwidth = $0 }
        try fraction("--prefill-mfu", prefillMFU) { r.efficiencies.prefillMFU = $0 }
        try fraction("--mfu", mfu) { r.efficiencies.trainingMFU = $0 }
        try fraction("--network-efficiency", networkEfficiency) { r.efficiencies.network = $0 }

        if trainTokens != nil && datasetTokens != nil {
            throw PlanError.usage("give --train-tokens or --dataset-tokens with --epochs, not both")
        }
        if epochs != nil && datasetTokens == nil { throw PlanError.usage("--epochs needs --dataset-tokens") }
        if let e = epochs, !(e > 0 && e <= 1000) { throw PlanError.usage("invalid --epochs \(e); expected a number above 0 and at most 1000") }
        if let t = trainTokens { r.trainTokens = try Self.count(t, flag: "--train-tokens") }
        if let d = datasetTokens { r.trainTokens = try Self.count(d, flag: "--dataset-tokens") * (epochs ?? 1) }
        if let d = deadline { r.deadline = try Self.duration(d, flag: "--deadline") }
        if (r.trainTokens != nil || r.deadline != nil) && mode != .train {
            throw PlanError.usage("\(r.trainTokens != nil ? "--train-tokens" : "--deadline") applies to training; add --mode train")
        }
        if r.deadline != nil && r.trainTokens == nil { throw PlanError.usage("--deadline needs --train-tokens (or --dataset-tokens)") }

        let traffic = [users != nil, context != nil, tokensPerS != nil]
        if traffic.contains(true) || ttft != nil {
            guard let users, let context, let tokensPerS else {
                throw PlanError.usage("serving to a target needs --users, --context and --tokens-per-s together (--ttft is optional)")
            }
            guard mode == .infer else { throw PlanError.usage("--users, --context and --tokens-per-s size serving; drop --mode train") }
            guard tokensPerS > 0 && tokensPerS <= 100_000 else {
                throw PlanError.usage("invalid --tokens-per-s \(tokensPerS); expected a rate above 0 and at most 100000")
            }
            if let t = ttft, !(t > 0 && t <= 3600) { throw PlanError.usage("invalid --ttft \(t); expected seconds above 0 and at most 3600") }
            r.target = ServingTarget(users: users, context: context, tokensPerSecond: tokensPerS, ttft: ttft)
        }
        if let a = amortize { r.amortizeYears = try Self.duration(a, flag: "--amortize") / (8760 * 3600) }
        return r
    }

    /// What a serving job keeps (`plan job add`): the engine, its settings, the efficiencies and the
    /// traffic; nil when none is given. Training times and prices belong to `plan estimate`.
    func servingRequest(mode: Mode) throws -> SpeedRequest? {
        for (flag, given) in [
            ("--train-tokens", trainTokens != nil), ("--dataset-tokens", datasetTokens != nil), ("--epochs", epochs != nil),
            ("--deadline", deadline != nil), ("--amortize", amortize != nil), ("--mfu", mfu != nil),
        ] where given {
            throw PlanError.usage("\(flag) is for `plan estimate`; a job keeps only its serving engine and traffic")
        }
        let r = try request(mode: mode)
        guard r != SpeedRequest() else { return nil }
        if mode != .infer { throw PlanError.usage("--engine and the serving settings are for --mode infer") }
        return r
    }

    /// A count with an optional K/M/B/T suffix or an exponent: 2B, 1.5T, 1e9, 500000.
    static func count(_ text: String, flag: String) throws -> Double {
        let t = text.trimmingCharacters(in: .whitespaces)
        let scales: [Character: Double] = ["k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "b": 1e9, "B": 1e9, "g": 1e9, "G": 1e9, "t": 1e12, "T": 1e12]
        var value: Double?
        if let last = t.last, let s = scales[last] { value = Double(t.dropLast()).map { $0 * s } } else { value = Double(t) }
        guard let v = value, v.isFinite, v >= 1, v <= 1e18 else {
            throw PlanError.usage("invalid \(flag) '\(text)'; expected a number of tokens such as 2B, 15T, 500M or 1e9")
        }
        return v
    }

    /// A duration in seconds: 90m, 24h, 3d, 2w, 3y (365 days), or plain seconds.
    static func duration(_ text: String, flag: String) throws -> Double {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800, "y": 8760 * 3600]
        var value: Double?
        if let last = t.last, let u = units[last] { value = Double(t.dropLast()).map { $0 * u } } else { value = Double(t) }
        guard let v = value, v.isFinite, v > 0, v <= 100 * 8760 * 3600 else {
            throw PlanError.usage("invalid \(flag) '\(text)'; expected a duration such as 90m, 24h, 3d, 2w or 3y")
        }
        return v
    }
}
