import Foundation
import PlanModel
import Testing
import TestSupport

@testable import MemoryEstimation

/// Real measurements (torch 2.15 + transformers 5.24 on CPU; docs/calibration/measure.py) of small
/// random-weight models: bytes saved for backward after a training forward with labels, KV-cache
/// bytes after a prefill, and the prefill's peak working memory. The estimator must match the
/// activations within 5% and the KV cache exactly.
struct MeasuredCase: Sendable, CustomTestStringConvertible {
    var id: String
    var kind: String
    var config: JSONValue
    var elementBytes: Int
    var attention: AttentionImplementation
    var batch: Int
    var seq: Int
    var useCache: Bool
    var checkpointing: Bool
    var eagerExperts: Bool
    var logitsToKeep: Int
    var expected: Int

    var testDescription: String { id }

    static let all = load("calibration-cases.json")

    /// The cases of one fixture in Tests/MemoryEstimationTests/Fixtures (the layout export_fixture.py writes).
    static func load(_ fixture: String) -> [MeasuredCase] {
        let url = repositoryRoot.appendingPathComponent("Tests/MemoryEstimationTests/Fixtures/" + fixture)
        let doc = try! JSONValue.parse(try! Data(contentsOf: url))
        guard case .array(let cases) = doc["cases"]! else { fatalError() }
        return cases.map { c in
            func int(_ k: String) -> Int { if case .int(let i) = c[k] { i } else { 0 } }
            func str(_ k: String) -> String { if case .string(let s) = c[k] { s } else { "" } }
            func bool(_ k: String) -> Bool { c[k] == .bool(true) }
            let kind = str("kind")
            let expected = kind == "train" ? int("saved_bytes") : kind == "kv" ? int("kv_cache_bytes") : int("peak_working_bytes")
            return MeasuredCase(
                id: str("id"), kind: kind, config: c["config"]!, elementBytes: str("dtype") == "fp32" ? 4 : 2,
                attention: AttentionImplementation(rawValue: str("attention"))!, batch: int("batch"), seq: int("seq"),
                useCache: bool("use_cache"), checkpointing: bool("checkpointing"), eagerExperts: str("experts") == "eager",
                logitsToKeep: int("logits_to_keep"), expected: expected)
        }
    }

    func architecture() throws -> ModelArchitecture { try ModelArchitecture(config: config, origin: id) }

    /// The estimator's training activations for this case and its relative error against the measurement.
    func trainingEstimate() throws -> (got: Int, error: Double) {
        var shape = Activations.Shape(
            batch: batch, seq: seq, elementBytes: elementBytes, attention: attention, checkpointing: checkpointing,
            useCache: checkpointing ? nil : useCache)
        shape.eagerExperts = eagerExperts
        let got = Activations.training(try architecture(), shape).total
        return (got, abs(Double(got - expected)) / Double(expected))
    }
}

@Suite struct CalibrationTests {
    @Test func fixtureHasEveryKind() {
        let kinds = Dictionary(grouping: MeasuredCase.all, by: \.kind).mapValues(\.count)
        #expect(kinds["train"] == 374)
        #expect(kinds["kv"] == 72)
        #expect(kinds["prefill"] == 108)
    }

    @Test(arguments: MeasuredCase.all.filter { $0.kind == "train" })
    func trainingActivationsWithinFivePercent(_ c: MeasuredCase) throws {
        let (got, err) = try c.trainingEstimate()
        #expect(err <= 0.05, "\(c.id): estimated \(got), measured \(c.expected) (\(String(format: "%.2f", err * 100))%)")
    }

    @Test(arguments: MeasuredCase.all.filter { $0.kind == "kv" })
    func kvCacheExact(_ c: MeasuredCase) throws {
        let a = try c.architecture()
        let got = KVCache.bytes(a, batch: c.batch, tokens: c.seq, bytesPerElement: c.elementBytes, windowed: false)
        #expect(got == c.expected, "\(c.id): estimated \(got), measured \(c.expected)")
    }

    @Test(arguments: MeasuredCase.all.filter { $0.kind == "prefill" && !$0.useCache })
    func prefillWorkingMemoryWithinFivePercent(_ c: MeasuredCase) throws {
        let a = try c.architecture()
        let got = Prefill.working(
            a, batch: c.batch, seq: c.seq, elementBytes: c.elementBytes, attention: c.attention,
            logitsPositions: c.logitsToKeep == 0 ? nil : c.logitsToKeep
        ).total
        let err = abs(Double(got - c.expected)) / Double(c.expected)
        #expect(err <= 0.05, "\(c.id): estimated \(got), measured \(c.expected) (\(String(format: "%.2f", err * 100))%)")
    }
}

/// PEFT LoRA measurements (peft 0.21.2; docs/calibration/lora/): bytes saved for backward with a
/// frozen base and adapters in fp32 (PEFT's default on a 16-bit model) or in the model dtype.
struct LoRACase: Sendable, CustomTestStringConvertible {
    var id: String
    var config: JSONValue
    var elementBytes: Int
    var attention: AttentionImplementation
    var batch: Int
    var seq: Int
    var checkpointing: Bool
    var rank: Int
    var targets: [String]
    var adapterBytes: Int
    var expected: Int
    var testDescription: String { id }

    static let all: [LoRACase] = {
        let url = repositoryRoot.appendingPathComponent("Tests/MemoryEstimationTests/Fixtures/lora-cases.json")
        let doc = try! JSONValue.parse(try! Data(contentsOf: url))
        guard case .array(let cases) = doc["cases"]! else { fatalError() }
        return cases.map { c in
            func int(_ k: String) -> Int { if case .int(let i) = c[k] { i } else { 0 } }
            func str(_ k: String) -> String { if case .string(let s) = c[k] { s } else { "" } }
            guard case .array(let t) = c["targets"]! else { fatalError() }
            return LoRACase(
                id: str("id"), config: c["config"]!, elementBytes: str("dtype") == "fp32" ? 4 : 2,
                attention: AttentionImplementation(rawValue: str("attention"))!, batch: int("batch"), seq: int("seq"),
                checkpointing: c["checkpointing"] == .bool(true), rank: int("rank"),
                targets: t.compactMap { if case .string(let s) = $0 { s } else { nil } }, adapterBytes: int("adapter_bytes"),
                expected: int("saved_bytes"))
        }
    }()
}

@Suite struct LoRACalibrationTests {
    @Test func fixtureCoversTargetSetsAndAdapterDtypes() {
        #expect(LoRACase.all.count == 484)
        #expect(Set(LoRACase.all.map { $0.targets.count }) == [2, 3, 4, 7])
        #expect(Set(LoRACase.all.map(\.adapterBytes)) == [2, 4])
    }

    @Test(arguments: LoRACase.all)
    func loraActivationsWithinFivePercent(_ c: LoRACase) throws {
        let a = try ModelArchitecture(config: c.config, origin: c.id)
        var shape = Activations.Shape(
            batch: c.batch, seq: c.seq, elementBytes: c.elementBytes, attention: c.attention, checkpointing: c.checkpointing)
        shape.lora = .init(rank: c.rank, targets: Set(c.targets), adapterBytes: c.adapterBytes)
        let got = Activations.training(a, shape).total
        let err = abs(Double(got - c.expected)) / Double(c.expected)
        #expect(err <= 0.05, "\(c.id): estimated \(got), measured \(c.expected) (\(String(format: "%.2f", err * 100))%)")
    }
}
