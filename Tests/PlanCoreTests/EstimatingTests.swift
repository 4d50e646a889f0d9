import Foundation
import Inventory
import MemoryEstimation
import PlanCore
import PlanModel
import Testing
import TestSupport

/// `plan estimate`'s use case in-process: which weights it counts and what it warns about.
@Suite struct EstimatingTests {
    static let catalog = try! CatalogSnapshot.seeds(Resources(root: repositoryRoot))

    static func request(_ model: String, _ w: Workload, gpu: String? = nil, dtypeGiven: Bool = false) throws -> EstimateRequest {
        EstimateRequest(
            model: try ModelResolver.resolve(model, catalog: catalog), workload: w, split: ParallelSplit(),
            gpu: gpu.flatMap { catalog.gpu(named: $0) }, options: EstimateOptions(), dtypeGiven: dtypeGiven, includeMTP: false,
            strategy: nil, tp: nil, pp: nil, maxRecommendations: 3)
    }

    @Test func aQuantizedConfigSetsTheWeightsUnlessTheDtypeIsGiven() throws {
        // gpt-oss-120b ships MXFP4 experts: served as stored, its weights are far below bf16's 2 bytes a parameter.
        let stored = try Estimating.run(try Self.request("gpt-oss-120b", Workload(), gpu: "h100-sxm-80gb"), gpus: Self.catalog.gpus)
        #expect(stored.quantization?.method == "mxfp4")
        #expect(stored.estimate.weights < stored.estimate.parameters)
        #expect(stored.estimate.warnings.contains { $0.contains("no native FP4") })
        #expect(stored.recommendations.count == 3)
        let bf16 = try Estimating.run(try Self.request("gpt-oss-120b", Workload(), dtypeGiven: true), gpus: Self.catalog.gpus)
        #expect(bf16.quantization == nil)
        #expect(bf16.estimate.weights >= 2 * bf16.estimate.parameters)
    }

    @Test func trainingAnUncalibratedFamilyWarnsAndBadSplitsAreEstimateErrors() throws {
        guard case .object(var config) = try #require(Self.catalog.model(named: "llama-3-8b")?.config) else {
            Issue.record("the catalog's llama-3-8b config is not an object")
            return
        }
        config["model_type"] = .string("my_llama")
        let dir = TempDir()
        defer { dir.cleanup() }
        let path = dir.write("config.json", JSONValue.object(config).encodedString())
        let r = try Estimating.run(try Self.request(path, Workload(mode: .train)), gpus: [])
        #expect(r.estimate.warnings.contains { $0.hasPrefix("training activations for my_llama are not yet calibrated") })
        var bad = try Self.request("llama-3-8b", Workload())
        bad.split = ParallelSplit(tp: 3)
        #expect(throws: EstimateError.tensorParallel(3, heads: 32, valid: [1, 2, 4, 8, 16, 32])) {
            try Estimating.run(bad, gpus: Self.catalog.gpus)
        }
    }
}
