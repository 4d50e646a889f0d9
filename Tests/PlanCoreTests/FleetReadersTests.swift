import Foundation
import PlanCore
import PlanModel
import Testing

/// The node-list readers and the exporters on hand-made inputs: the cases a real cluster prints that
/// the fixtures do not show.
@Suite struct FleetReadersTests {
    @Test func scontrolReasonIsFreeTextAndComesLast() throws {
        // A Reason= with words that look like fields must not override the node's own State=.
        let line = "NodeName=n3 CPUTot=64 Gres=gpu:h100:8 RealMemory=1000 State=IDLE Partitions=gpu Reason=bad gpu State=DOWN x=y [root@2026-01-01]"
        let n = try #require(try NodeListReader.scontrol(line).nodes.first)
        #expect(n.state == .ready && n.product == "h100" && n.gpus == 8 && n.partitions == ["gpu"])
    }

    @Test func severalGPUTypesOnOneNodeAreRefusedAndAnUntypedGRESCanBeMapped() throws {
        #expect(throws: ImportError.mixedProducts(host: "n1", products: ["a100", "h100"])) {
            try NodeListReader.scontrol("NodeName=n1 Gres=gpu:h100:4,gpu:a100:4 State=IDLE")
        }
        // Two entries of one type add up (gpu:h100:4(S:0),gpu:h100:4(S:1)).
        let split = try NodeListReader.scontrol("NodeName=n2 Gres=gpu:h100:4(S:0),gpu:h100:4(S:1) State=IDLE").nodes
        #expect(split.first?.gpus == 8)
        // gpu:4 names no type: the product is "gpu", which --gpu-map gpu=GPU settles.
        let untyped = try #require(try NodeListReader.scontrol("NodeName=n4 Gres=gpu:4 State=IDLE").nodes.first)
        #expect(untyped.product == "gpu")
        let catalog = [GPUType(id: "h100-sxm-80gb", name: "NVIDIA H100 SXM5 80GB", memoryBytes: 80 << 30)]
        let map = try GPUProducts.map("gpu=h100-sxm-80gb", catalog: catalog)
        #expect(try GPUProducts.resolve(untyped, catalog: catalog, map: map).id == "h100-sxm-80gb")
        #expect(throws: ImportError.unknownProduct(node: "n4", product: "gpu")) { try GPUProducts.resolve(untyped, catalog: catalog, map: [:]) }
    }

    @Test func aZeroCountOfOneVendorDoesNotHideAnotherVendorsGPUs() throws {
        let json = #"{"kind": "List", "items": [{"metadata": {"name": "n", "labels": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}}, "status": {"capacity": {"amd.com/gpu": "0", "nvidia.com/gpu": "8", "memory": "1Gi"}}}]}"#
        let r = try NodeListReader.kubernetes(Data(json.utf8), rackLabel: nil)
        #expect(r.nodes.first?.gpus == 8 && r.skipped == 0)
    }

    static func work(nodes: [(String, Int)], vendor: String = "nvidia", job: String = "wide") -> PlacedWork {
        PlacedWork(
            job: job, replica: 0, replicas: 1, kind: .training, gpuType: "a100-sxm-80gb", nodes: nodes.map { (server: $0.0, gpus: $0.1) },
            gresType: "a100", memMiBPerNode: 1000, partition: "gpu", tp: 1, pp: 1, dp: 10, strategy: "zero3", perGPUBytes: 1, vendor: vendor)
    }

    @Test func slurmAsksTheTotalWhenNodesHoldDifferentCounts() throws {
        let even = SlurmExport.scripts([Self.work(nodes: [("a", 8), ("b", 8)])], options: .init(command: "python t.py")).first!.script
        #expect(even.directives.contains { $0 == ("gres", "gpu:a100:8") })
        let uneven = SlurmExport.scripts([Self.work(nodes: [("a", 2), ("b", 8)])], options: .init(command: "python t.py")).first!.script
        #expect(uneven.directives.contains { $0 == ("gpus", "a100:10") } && !uneven.directives.contains { $0.0 == "gres" })
        #expect(uneven.body.contains { $0.contains("--nproc-per-node=gpu") })
        #expect(SlurmExport.badNodeNames([Self.work(nodes: [("srv y", 8), ("ok-1", 8)])]) == ["srv y"])
    }

    @Test func kubernetesNamesStartWithALetterAndGPUsUseTheVendorsResource() throws {
        let docs = KubernetesExport.manifests(
            [Self.work(nodes: [("a", 8)], vendor: "amd", job: "70b-ft")], options: .init(command: "python train.py --lr 1e-4"))
        let (file, documents) = try #require(docs.first)
        #expect(file == "job-70b-ft.yaml")
        let job = try #require(documents.last)
        let container = try #require(job["spec"]?["template"]?["spec"]?["containers"].flatMap { if case .array(let a) = $0 { a.first } else { nil } })
        #expect(container["resources"]?["limits"]?["amd.com/gpu"] == .int(8))
        #expect(container["command"] == .array([.string("/bin/sh"), .string("-c"), .string("python train.py --lr 1e-4")]))
        #expect(KubernetesExport.resource(vendor: "intel") == "habana.ai/gaudi")
    }
}
