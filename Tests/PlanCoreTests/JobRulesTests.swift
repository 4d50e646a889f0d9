import Foundation
import PlanCore
import PlanModel
import Testing

/// Job validation is PlanCore's, the same for flags, import rows and the demo.
@Suite struct JobRulesTests {
    static let tiny = #"{"model_type": "llama", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}"#

    func resolve(_ name: String) throws -> ResolvedJobModel {
        let config = try JSONValue.parse(Data(Self.tiny.utf8))
        return ResolvedJobModel(architecture: try ModelArchitecture(config: config), config: config, catalogID: "tiny")
    }

    @Test func refusalsAreCasesNamingTheJob() {
        var r = JobRequest(name: "j")
        #expect(throws: JobError.neitherModelNorSized(job: "j")) { try JobRules.validate(r, resolve: resolve) }
        r.model = "tiny"
        #expect(throws: JobError.modeMissing(job: "j")) { try JobRules.validate(r, resolve: resolve) }
        r.modeGiven = true
        r.gpus = 3
        r.tp = 2
        #expect(throws: JobError.gpusNotMultipleOfGroup(job: "j", gpus: 3, group: 2)) { try JobRules.validate(r, resolve: resolve) }
        r.gpus = 3
        r.tp = 3  // 3 does not divide the 4 attention heads
        #expect(throws: JobError.estimate(job: "j", .tensorParallel(3, heads: 4, valid: [1, 2, 4]))) {
            try JobRules.validate(r, resolve: resolve)
        }
        var sized = JobRequest(name: "s")
        sized.gpus = 2
        sized.gpuMemory = 1 << 30
        sized.tp = 2
        #expect(throws: JobError.splitForSized(job: "s")) { try JobRules.validate(sized, resolve: resolve) }
    }

    @Test func aValidModelJobRefersToItsCatalogEntry() throws {
        var r = JobRequest(name: "ok")
        r.model = "tiny"
        r.modeGiven = true
        r.workload = Workload(mode: .infer)
        r.replicas = 3
        let job = try JobRules.validate(r, resolve: resolve)
        #expect(job.kind == .llm && job.modelID == "tiny" && job.modelConfig == nil && job.replicas == 3)
    }
}
