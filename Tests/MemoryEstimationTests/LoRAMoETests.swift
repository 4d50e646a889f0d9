import Foundation
import PlanModel
import TestSupport
import Testing

@testable import MemoryEstimation

/// PEFT 0.21 LoRA on mixture-of-experts and latent-attention models (docs/calibration/lora/experts.md):
/// the exact trainable-parameter count PEFT builds for the same target names, and the bytes saved for
/// backward with LoRA minus those of the same model fully trained.
struct LoRAMoECase: Sendable, CustomTestStringConvertible {
    var id: String
    var config: JSONValue
    var elementBytes: Int
    var batch: Int
    var seq: Int
    var rank: Int
    var targets: [String]
    var adapterBytes: Int
    var trainable: Int
    var saved: Int
    var fullSaved: Int
    var testDescription: String { id }

    static let all: [LoRAMoECase] = {
        let url = repositoryRoot.appendingPathComponent("Tests/MemoryEstimationTests/Fixtures/lora-moe-cases.json")
        let doc = try! JSONValue.parse(try! Data(contentsOf: url))
        guard case .array(let cases) = doc["cases"]! else { fatalError() }
        return cases.map { c in
            func int(_ k: String) -> Int { if case .int(let i) = c[k] { i } else { 0 } }
            func str(_ k: String) -> String { if case .string(let s) = c[k] { s } else { "" } }
            guard case .array(let t) = c["targets"]! else { fatalError() }
            return LoRAMoECase(
                id: str("id"), config: c["config"]!, elementBytes: str("dtype") == "fp32" ? 4 : 2, batch: int("batch"),
                seq: int("seq"), rank: int("rank"), targets: t.compactMap { if case .string(let s) = $0 { s } else { nil } },
                adapterBytes: int("adapter_bytes"), trainable: int("trainable_params"), saved: int("saved_bytes"),
                fullSaved: int("full_saved_bytes"))
        }
    }()
}

@Suite struct LoRAMoETests {
    @Test func fixtureCoversTheFamilies() {
        let ids = Set(LoRAMoECase.all.map { $0.id.split(separator: "|")[0] })
        #expect(ids == ["mixtral", "qwen3_moe", "qwen2_moe", "deepseek_v3", "deepseek_v3_noqlora"])
        #expect(Set(LoRAMoECase.all.map(\.adapterBytes)) == [2, 4])
    }

    @Test(arguments: LoRAMoECase.all)
    func trainableParametersMatchPEFT(_ c: LoRAMoECase) throws {
        let a = try ModelArchitecture(config: c.config, origin: c.id)
        #expect(LoRA.invalidTargets(a, c.targets) == nil)
        #expect(LoRA.trainableParameters(a, rank: c.rank, targets: c.targets) == c.trainable)
    }

    @Test(arguments: LoRAMoECase.all)
    func loraMinusFullActivationsWithinFivePercent(_ c: LoRAMoECase) throws {
        let a = try ModelArchitecture(config: c.config, origin: c.id)
        var shape = Activations.Shape(
            batch: c.batch, seq: c.seq, elementBytes: c.elementBytes, attention: .sdpa, checkpointing: false)
        let full = Activations.training(a, shape).total
        shape.lora = .init(rank: c.rank, targets: Set(c.targets), adapterBytes: c.adapterBytes)
        let got = Activations.training(a, shape).total - full
        let measured = c.saved - c.fullSaved
        let err = abs(Double(got - measured)) / Double(c.saved)
        #expect(
            err <= 0.05,
            "\(c.id): LoRA - full estimated \(got), measured \(measured) (\(String(format: "%.2f", err * 100))% of \(c.saved))")
    }

    @Test func targetNamesFollowTheModel() throws {
        let deepseek = try ModelArchitecture(
            config: LoRAMoECase.all.first { $0.id.hasPrefix("deepseek_v3|") }!.config, origin: "t")
        #expect(
            LoRA.validTargets(deepseek) == [
                "q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
            ])
        #expect(LoRA.resolvedTargets(deepseek, .allLinear) == LoRA.validTargets(deepseek))
        let bad = try #require(LoRA.invalidTargets(deepseek, ["q_proj", "k_proj"]))
        #expect(bad == .loraTargets(["q_proj", "k_proj"], modelType: "deepseek_v3", valid: LoRA.validTargets(deepseek)))
        #expect("\(bad)".contains("valid: q_a_proj, q_b_proj, kv_a_proj_with_mqa, kv_b_proj, o_proj, gate_proj, up_proj, down_proj"))
        #expect(LoRA.invalidTargets(deepseek, ["gate_proj"]) == .loraHalfOfFusedPair(["gate_proj", "up_proj"], modelType: "deepseek_v3"))
        let mixtral = try ModelArchitecture(config: LoRAMoECase.all.first { $0.id.hasPrefix("mixtral|") }!.config, origin: "t")
        #expect(LoRA.validTargets(mixtral) == ["q_proj", "k_proj", "v_proj", "o_proj", "w1", "w2", "w3"])
        #expect(LoRA.invalidTargets(mixtral, ["gate_proj"]) != nil)
        #expect(LoRA.normalizedName("kv_a_proj_with_mqa") == "kv_a_proj_with_mqa")
        #expect(LoRA.normalizedName("w1") == "w1")
        #expect(LoRA.normalizedName("q") == "q_proj")
    }
}
