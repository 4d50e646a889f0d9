import ArgumentParser
import Foundation
import Inventory
import MemoryEstimation
import PlanCore
import PlanModel

/// A job as typed on the command line or read from an import row, before validation: PlanCore's
/// `JobRequest`, with the parsing of import rows here.
typealias JobInput = JobRequest

extension JobRequest {
    /// The import columns: the long flag names of `plan job add`, with underscores.
    static let columns = [
        "name", "model", "mode", "method", "dtype", "kv_dtype", "optimizer", "precision", "batch", "seq", "attention",
        "checkpointing", "lora_rank", "lora_targets", "fused_loss", "fp32_grads", "optimizer_in_backward", "quant_group_size",
        "micro_batches", "offload", "replicas", "priority", "gpus", "gpu_memory", "same_server", "gpu_types", "headroom",
        "strategy", "tp", "pp", "gpu_memory_utilization",
    ] + speedColumns.map(\.column)

    /// How a serving column becomes a flag: its value as given, a named choice (matched in any case,
    /// as the other columns' choices are), or a true/false switch.
    enum SpeedColumn { case value, choice, flag }

    /// The serving columns: `plan job add`'s engine and traffic flags, read through `SpeedOptions` so a
    /// row is checked exactly as the flags are.
    static let speedColumns: [(column: String, flag: String, kind: SpeedColumn)] = [
        ("engine", "--engine", .choice), ("max_model_len", "--max-model-len", .value),
        ("max_num_batched_tokens", "--max-num-batched-tokens", .value), ("max_num_seqs", "--max-num-seqs", .value),
        ("block_size", "--block-size", .value), ("enforce_eager", "--enforce-eager", .flag),
        ("vllm_sampler", "--vllm-sampler", .choice), ("mem_efficiency", "--mem-efficiency", .value),
        ("prefill_mfu", "--prefill-mfu", .value), ("network_efficiency", "--network-efficiency", .value), ("users", "--users", .value),
        ("context", "--context", .value), ("tokens_per_s", "--tokens-per-s", .value), ("ttft", "--ttft", .value),
    ]

    /// Parses one import row; `where_` names it in errors ("jobs.csv line 4").
    init(row v: [String: String], where_: String) throws {
        func fail(_ col: String, _ value: String, _ valid: String) -> PlanError {
            PlanError("\(where_): invalid \(col) '\(value)'; expected \(valid); nothing was imported")
        }
        func int(_ col: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let s = v[col] else { return nil }
            guard let i = Int(s.trimmingCharacters(in: .whitespaces)), range.contains(i) else {
                throw fail(col, s, "a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return i
        }
        func flag(_ col: String) throws -> Bool {
            guard let s = v[col] else { return false }
            guard let b = Self.truth(s) else { throw fail(col, s, "true or false") }
            return b
        }
        func choice<T: RawRepresentable & CaseIterable>(_ col: String, _: T.Type) throws -> T? where T.RawValue == String {
            guard let s = v[col] else { return nil }
            guard let x = T(rawValue: s.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw fail(col, s, "one of " + T.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return x
        }
        guard let name = v["name"], !name.isEmpty else {
            throw PlanError("\(where_): the name is empty; every job needs a name; nothing was imported")
        }
        self.init(name: name)
        model = v["model"]
        let mode = try choice("mode", Mode.self)
        modeGiven = mode != nil
        var w = Workload(
            mode: mode ?? .infer, method: try choice("method", TrainingMethod.self) ?? .full,
            dtype: try choice("dtype", WeightDType.self) ?? .bf16, kvDType: try choice("kv_dtype", KVDType.self),
            optimizer: try choice("optimizer", Optimizer.self) ?? .adamw, precision: try choice("precision", Precision.self) ?? .mixed,
            batch: try int("batch", 1...1_000_000) ?? 1, seq: try int("seq", 1...100_000_000),
            attention: try choice("attention", AttentionImplementation.self) ?? .sdpa, checkpointing: try flag("checkpointing"),
            loraRank: try int("lora_rank", 1...65_536) ?? 16, loraTargets: v["lora_targets"].map(Self.targets) ?? .allLinear,
            microBatches: try int("micro_batches", 1...100_000) ?? 1, fusedLoss: try flag("fused_loss"),
            optimizerInBackward: try flag("optimizer_in_backward"))
        if let u = v["gpu_memory_utilization"], !u.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let x = Double(u.trimmingCharacters(in: .whitespaces)), x > 0, x <= 1 else {
                throw fail("gpu_memory_utilization", u, "a fraction above 0 and at most 1, e.g. 0.9")
            }
            w.gpuMemoryUtilization = x
        }
        workload = w
        serving = try Self.serving(v, mode: w.mode, where_: where_)
        dtypeGiven = !(v["dtype"] ?? "").trimmingCharacters(in: .whitespaces).isEmpty
        fp32Grads = try flag("fp32_grads")
        quantGroupSize = try int("quant_group_size", 1...1_048_576)
        offload = try choice("offload", Offload.self) ?? .none
        replicas = try int("replicas", 1...100_000) ?? 1
        priority = try int("priority", -1_000_000...1_000_000) ?? 0
        gpus = try int("gpus", 1...1024)
        if let m = v["gpu_memory"] {
            guard let b = ByteSize.parse(m) else { throw fail("gpu_memory", m, ByteSize.validForms) }
            gpuMemory = b.value
        }
        sameServer = try flag("same_server")
        gpuTypes = v["gpu_types"].map(Self.list) ?? []
        if let h = v["headroom"] {
            guard let x = Double(h), x >= 0, x < 1 else { throw fail("headroom", h, "a fraction from 0 to 0.99") }
            headroom = x
        }
        strategy = try choice("strategy", StrategyChoice.self)?.strategy
        tp = try int("tp", 1...1024)
        pp = try int("pp", 1...1024)
    }

    /// The row's engine and traffic, parsed as `plan job add` parses its flags; nil when the row has none.
    static func serving(_ v: [String: String], mode: Mode, where_: String) throws -> SpeedRequest? {
        var args: [String] = []
        for c in speedColumns {
            guard let raw = v[c.column] else { continue }
            let s = raw.trimmingCharacters(in: .whitespaces)
            if s.isEmpty { continue }
            switch c.kind {
            case .value: args += [c.flag, s]
            case .choice: args += [c.flag, s.lowercased()]
            case .flag:
                guard let on = truth(s) else {
                    throw PlanError("\(where_): invalid \(c.column) '\(raw)'; expected true or false; nothing was imported")
                }
                if on { args.append(c.flag) }
            }
        }
        if args.isEmpty { return nil }
        do {
            return try SpeedOptions.parse(args).servingRequest(mode: mode)
        } catch let e as PlanError {
            throw PlanError("\(where_): \(e.message); nothing was imported", exitCode: e.exitCode)
        } catch {
            var message = SpeedOptions.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid serving columns"
            if message.hasSuffix(".") { message.removeLast() }
            throw PlanError("\(where_): \(message); nothing was imported", exitCode: 64)
        }
    }

    /// A true/false cell: 1, true, yes or 0, false, no, or empty (false), in any case; nil otherwise.
    static func truth(_ s: String) -> Bool? {
        switch s.lowercased().trimmingCharacters(in: .whitespaces) {
        case "1", "true", "yes": true
        case "0", "false", "no", "": false
        default: nil
        }
    }

    static func list(_ s: String) -> [String] {
        s.split(whereSeparator: { $0 == "," || $0 == " " || $0 == ";" }).map(String.init).filter { !$0.isEmpty }
    }

    static func targets(_ s: String) -> LoRATargets {
        LoRATargets(names: list(s).map(LoRA.normalizedName))
    }

    /// Validates with PlanCore's job rules; the model is resolved here (files or the catalog).
    func validated(catalog: CatalogSnapshot) throws -> NewJob {
        try JobRules.validate(self) { model in
            let m = try ModelResolver.resolve(model, catalog: catalog)
            return ResolvedJobModel(architecture: m.architecture, config: m.config, catalogID: m.catalogID)
        }
    }
}
