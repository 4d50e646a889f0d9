import Foundation
import PlanModel
import Testing
import TestSupport

@testable import MemoryEstimation

/// One case of `shared/reference/public-golden-estimator.json` (a copy lives in Fixtures/), read
/// as data rather than through the code under test.
struct GoldenCase: Sendable, CustomTestStringConvertible {
    var id: String
    var category: String
    var inputs: JSONValue
    var value: Double
    var unit: String
    var toleranceType: String
    var tolerance: Double

    var testDescription: String { id }

    static let all: [GoldenCase] = {
        let url = repositoryRoot.appendingPathComponent("Tests/MemoryEstimationTests/Fixtures/public-golden-estimator.json")
        let doc = try! JSONValue.parse(try! Data(contentsOf: url))
        guard case .array(let cases) = doc["cases"]! else { fatalError("no cases") }
        return cases.map { c in
            func num(_ v: JSONValue?) -> Double {
                switch v {
                case .int(let i): Double(i)
                case .double(let d): d
                default: 0
                }
            }
            func str(_ v: JSONValue?) -> String { if case .string(let s) = v { s } else { "" } }
            return GoldenCase(
                id: str(c["id"]), category: str(c["category"]), inputs: c["inputs"] ?? .null, value: num(c["expected"]?["value"]),
                unit: str(c["expected"]?["unit"]), toleranceType: str(c["tolerance"]?["type"]), tolerance: num(c["tolerance"]?["value"]))
        }
    }()

    static func category(_ c: String) -> [GoldenCase] { all.filter { $0.category == c } }

    func input(_ key: String) -> JSONValue? { inputs[key] }
    func string(_ key: String) -> String? { if case .string(let s) = inputs[key] { s } else { nil } }
    func int(_ key: String) -> Int? {
        switch inputs[key] {
        case .int(let i): i
        case .double(let d): Int(d)
        default: nil
        }
    }
    func bool(_ key: String) -> Bool? { if case .bool(let b) = inputs[key] { b } else { nil } }

    /// The expected value in bytes (or plain count), converting the case's unit.
    var expectedBytes: Double {
        switch unit {
        case "GB(1e9)", "GB": value * 1e9
        case "GiB": value * 1_073_741_824
        case "MiB", "MB(MiB)": value * 1_048_576
        default: value
        }
    }

    /// Whether `actual` (in bytes or a count) is within the case's tolerance.
    func accepts(_ actual: Double) -> Bool {
        let expected = expectedBytes
        switch toleranceType {
        case "exact": return actual == expected
        case "relative": return abs(actual - expected) <= tolerance * expected
        case "absolute": return abs(actual - expected) <= tolerance * (expectedBytes / max(value, 1e-300))
        default: return false
        }
    }
}

/// Catalog models read from Seeds/models.json.
enum SeedModels {
    static let all: [String: JSONValue] = {
        let data = try! Data(contentsOf: repositoryRoot.appendingPathComponent("Seeds/models.json"))
        guard case .array(let items) = try! JSONValue.parse(data) else { fatalError() }
        var out: [String: JSONValue] = [:]
        for item in items {
            guard case .string(let id) = item["id"]!, let config = item["config"] else { continue }
            out[id] = config
        }
        return out
    }()
    static func arch(_ id: String) throws -> ModelArchitecture {
        try ModelArchitecture(config: try #require(all[id], "no catalog model \(id)"), origin: id)
    }
}

@Suite struct ParameterTests {
    @Test(arguments: GoldenCase.category("param_count").filter { $0.id.hasPrefix("params-") && !$0.id.contains("active") && !$0.id.contains("lora") })
    func totalMatchesPublishedCount(_ c: GoldenCase) throws {
        let model = try #require(c.string("model"))
        #expect(c.accepts(Double(ParameterCount(try SeedModels.arch(model)).total)), "\(model)")
    }

    // Counts published in the model cards / safetensors metadata of the models not in the golden file.
    @Test(arguments: [
        ("llama-3.2-1b", 1_235_814_400),
        ("llama-3.1-8b", 8_030_261_248),
        ("llama-3.1-70b", 70_553_706_496),
        ("qwen2.5-0.5b", 494_032_768),
        ("qwen2.5-1.5b", 1_543_714_304),
        ("qwen2.5-3b", 3_085_938_688),
        ("qwen2.5-14b", 14_770_033_664),
        ("qwen2.5-32b", 32_763_876_352),
        ("gemma-2-2b", 2_614_341_888),
        ("gemma-2-27b", 27_227_128_320),
        ("gpt2-medium", 354_823_168),
        ("gpt2-large", 774_030_080),
        ("gpt2-xl", 1_557_611_200),
        ("phi-3-mini-128k", 3_821_079_552),
    ])
    func otherCatalogModels(id: String, expected: Int) throws {
        #expect(ParameterCount(try SeedModels.arch(id)).total == expected)
    }

    @Test func mixtralActiveParameters() throws {
        let a = try SeedModels.arch("mixtral-8x7b-v0.1")
        // 46,702,792,704 total minus 6 unused experts x 32 layers x 3 x 4096 x 14336.
        #expect(ParameterCount(a).active(expertsPerToken: 2, experts: 8) == 12_879_925_248)
    }

    @Test func loraTrainableParameters() throws {
        let a = try SeedModels.arch("llama-3-8b")
        let all = LoRATargets.llamaLinear
        #expect(LoRA.trainableParameters(a, rank: 16, targets: all) == 41_943_040)
        #expect(LoRA.trainableParameters(a, rank: 8, targets: all) == 20_971_520)
        #expect(LoRA.trainableParameters(a, rank: 64, targets: all) == 167_772_160)
        // q and v only: 32 x 8 x ((4096 + 4096) + (4096 + 1024)) = 3,407,872 (PEFT's default for Llama).
        #expect(LoRA.trainableParameters(a, rank: 8, targets: ["q_proj", "v_proj"]) == 3_407_872)
    }

    @Test func quantizableLinearWeightsOfLlama3() throws {
        let p = ParameterCount(try SeedModels.arch("llama-3-8b"))
        #expect(p.linearWeights == 6_979_321_856)
        #expect(p.nonLinear == 1_050_939_392)
    }
}
