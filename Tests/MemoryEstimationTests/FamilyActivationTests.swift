import Foundation
import PlanModel
import Testing
import TestSupport

@testable import MemoryEstimation

/// Training activations of the newer families (Qwen3, OLMo-2, Gemma-3, Qwen2/3-MoE, DeepSeek-V3 with
/// and without q_lora_rank, gpt-oss, GLM-4.5, Llama-4), measured like the calibration cases
/// (docs/calibration/families/measure_activations.py; write-up docs/calibration/families/activations.md).
@Suite struct FamilyActivationTests {
    static let cases = MeasuredCase.load("family-activation-cases.json")

    @Test func fixtureCoversEveryFamily() {
        let types = Set(Self.cases.compactMap { c -> String? in if case .string(let t) = c.config["model_type"] { t } else { nil } })
        #expect(
            types == ["qwen3", "olmo2", "gemma3_text", "qwen2_moe", "qwen3_moe", "deepseek_v3", "gpt_oss", "glm4_moe", "llama4_text"])
        #expect(Self.cases.count == 254)
        // DeepSeek-V3 with and without q_lora_rank.
        #expect(Set(Self.cases.filter { $0.id.hasPrefix("deepseek") }.map { $0.config["q_lora_rank"] == .null }) == [true, false])
        #expect(Self.cases.contains { $0.checkpointing } && Self.cases.contains { !$0.checkpointing })
    }

    @Test(arguments: cases.filter { $0.kind == "train" })
    func trainingActivationsWithinFivePercent(_ c: MeasuredCase) throws {
        let (got, err) = try c.trainingEstimate()
        #expect(err <= 0.05, "\(c.id): estimated \(got), measured \(c.expected) (\(String(format: "%.2f", err * 100))%)")
    }

    /// The classic families (GPT-NeoX parallel and sequential residual, StarCoder2 with and without a
    /// sliding window, Falcon parallel / new decoder / sequential / ALiBi, GPT-BigCode with and without
    /// dropout, DeepSeek-V2): docs/calibration/families/measure_classic_activations.py.
    static let classicCases = MeasuredCase.load("family-activation-classic-cases.json")

    @Test func classicFixtureCoversEveryFamily() {
        let types = Set(
            Self.classicCases.compactMap { c -> String? in if case .string(let t) = c.config["model_type"] { t } else { nil } })
        #expect(types == ["gpt_neox", "starcoder2", "falcon", "gpt_bigcode", "deepseek_v2"])
        #expect(Self.classicCases.count == 264)
        #expect(Self.classicCases.contains { $0.checkpointing } && Self.classicCases.contains { !$0.checkpointing })
    }

    @Test(arguments: classicCases.filter { $0.kind == "train" })
    func classicTrainingActivationsWithinFivePercent(_ c: MeasuredCase) throws {
        let (got, err) = try c.trainingEstimate()
        #expect(err <= 0.05, "\(c.id): estimated \(got), measured \(c.expected) (\(String(format: "%.2f", err * 100))%)")
    }
}
