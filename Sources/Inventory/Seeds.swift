import Foundation
import PlanModel

/// The catalog files in `Seeds/`: GPU types, server SKUs and models.
struct SeedFiles {
    struct GPU: Decodable {
        var id: String
        var name: String
        var vendor: String
        var aliases: [String]
        var memory_bytes: Int
        var memory_source: String
        var bf16: Bool
        var fp8: Bool
        var fp4: Bool
        var bandwidth_bytes_per_s: Int
        var interconnect: String
        var interconnect_bytes_per_s: Int
        var price_usd: Int
        var price_source: String
        var bf16_tflops: Double
        var fp8_tflops: Double
        var fp4_tflops: Double
        var tflops_source: String
        var hourly_usd: Double
        var hourly_source: String
        var cuda_memory_bytes: Int?
        var cuda_memory_source: String

        var gpuType: GPUType {
            GPUType(
                id: id, name: name, vendor: vendor, aliases: aliases, memoryBytes: memory_bytes, memorySource: memory_source, bf16: bf16,
                fp8: fp8, fp4: fp4, bandwidthBytesPerSecond: bandwidth_bytes_per_s, interconnect: interconnect,
                interconnectBytesPerSecond: interconnect_bytes_per_s, priceUSD: price_usd, priceSource: price_source,
                bf16TFLOPS: bf16_tflops, fp8TFLOPS: fp8_tflops, fp4TFLOPS: fp4_tflops, tflopsSource: tflops_source,
                hourlyUSD: hourly_usd, hourlySource: hourly_source, cudaMemoryBytes: cuda_memory_bytes,
                cudaMemorySource: cuda_memory_source)
        }
    }

    struct SKU: Decodable {
        var id: String
        var name: String
        var gpu: String
        var gpus_per_server: Int
        var host_memory_bytes: Int
        var cpu_cores: Int
        var price_usd: Int
        var price_source: String
        var fabric: String
        var fabric_source: String
    }

    struct Model: Decodable {
        var id: String
        var aliases: [String]
        var source: String
        var config: JSONValue
    }

    var gpus: [GPU]
    var skus: [SKU]
    var models: [Model]
    /// FNV-1a of the three files: re-seeding happens only when it changes.
    var hash: String

    static let fileNames = ["gpus.json", "skus.json", "models.json"]

    /// Reads the raw bytes and their hash; cheap enough for every start-up.
    static func hash(in resources: Resources) throws -> (String, [Data]) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var datas: [Data] = []
        for name in fileNames {
            guard let data = resources.files["Seeds/" + name] else {
                throw StoreError.seedMissing(name: name, origin: resources.origin)
            }
            data.withUnsafeBytes { raw in
                for b in raw.bindMemory(to: UInt8.self) {
                    h ^= UInt64(b)
                    h = h &* 0x100_0000_01b3
                }
            }
            datas.append(data)
        }
        return (String(h, radix: 16), datas)
    }

    static func load(from resources: Resources) throws -> SeedFiles {
        let (hash, datas) = try hash(in: resources)
        let dec = JSONDecoder()
        do {
            return SeedFiles(
                gpus: try dec.decode([GPU].self, from: datas[0]),
                skus: try dec.decode([SKU].self, from: datas[1]),
                models: try dec.decode([Model].self, from: datas[2]), hash: hash)
        } catch {
            throw StoreError.seedsMalformed(origin: resources.origin, detail: "\(error)")
        }
    }
}
