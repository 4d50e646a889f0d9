import GRDB
import PlanModel

/// A record of one table. Its `Columns` name every column of the table once, in the schema's
/// order (`Migrations/`); `RecordsTests` fails when they drift apart. Requests select exactly
/// these columns, never `*`. Most records are `Decodable` by name (their `CodingKeys` are their
/// `Columns`); the fleet's, read 100,000 at a time, decode by position.
protocol TableRow: FetchableRecord, TableRecord, Sendable
where Columns: RawRepresentable<String>, Columns: CaseIterable, Columns: ColumnExpression {}

extension TableRow {
    static var databaseSelection: [any SQLSelectable] { Columns.allCases.map { $0 } }

    /// The column names, in schema order.
    static var columnNames: [String] { Columns.allCases.map(\.rawValue) }

    /// The columns qualified by a table alias, for a hand-written join: `j.id, j.name, ...`.
    static func columnList(_ alias: String) -> String {
        Columns.allCases.map { "\(alias).\($0.rawValue)" }.joined(separator: ", ")
    }
}

// MARK: Catalog

struct GPUTypeRow: TableRow, Decodable {
    static let databaseTableName = "gpu_types"
    typealias Columns = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable, ColumnExpression {
        case id, name, vendor, memoryBytes = "memory_bytes", memorySource = "memory_source", bf16, fp8
        case bandwidthBytesPerSecond = "bandwidth_bytes_per_s", interconnect
        case interconnectBytesPerSecond = "interconnect_bytes_per_s", priceUSD = "price_usd", priceSource = "price_source"
        case userPriceUSD = "user_price_usd", origin, fp4
        case bf16TFLOPS = "bf16_tflops", fp8TFLOPS = "fp8_tflops", fp4TFLOPS = "fp4_tflops", tflopsSource = "tflops_source"
        case hourlyUSD = "hourly_usd", hourlySource = "hourly_source", userHourlyUSD = "user_hourly_usd"
        case cudaMemoryBytes = "cuda_memory_bytes", cudaMemorySource = "cuda_memory_source"
    }
    var id: String
    var name: String
    var vendor: String
    var memoryBytes: Int
    var memorySource: String
    var bf16: Bool
    var fp8: Bool
    var bandwidthBytesPerSecond: Int
    var interconnect: String
    var interconnectBytesPerSecond: Int
    var priceUSD: Int
    var priceSource: String
    var userPriceUSD: Int?
    var origin: CatalogOrigin
    var fp4: Bool
    var bf16TFLOPS: Double
    var fp8TFLOPS: Double
    var fp4TFLOPS: Double
    var tflopsSource: String
    var hourlyUSD: Double
    var hourlySource: String
    var userHourlyUSD: Double?
    var cudaMemoryBytes: Int?
    var cudaMemorySource: String
}

struct GPUAliasRow: TableRow, Decodable {
    static let databaseTableName = "gpu_aliases"
    typealias Columns = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable, ColumnExpression {
        case alias, gpuID = "gpu_id"
    }
    var alias: String
    var gpuID: String
}

struct ServerSKURow: TableRow, Decodable {
    static let databaseTableName = "server_skus"
    typealias Columns = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable, ColumnExpression {
        case id, name, gpuID = "gpu_id", gpusPerServer = "gpus_per_server", hostMemoryBytes = "host_memory_bytes"
        case cpuCores = "cpu_cores", priceUSD = "price_usd", priceSource = "price_source", userPriceUSD = "user_price_usd"
        case discountBasisPoints = "discount_basis_points", origin, fabric, fabricSource = "fabric_source"
    }
    var id: String
    var name: String
    var gpuID: String
    var gpusPerServer: Int
    var hostMemoryBytes: Int
    var cpuCores: Int
    var priceUSD: Int
    var priceSource: String
    var userPriceUSD: Int?
    var discountBasisPoints: Int?
    var origin: CatalogOrigin
    var fabric: String
    var fabricSource: String
}

struct ModelRow: TableRow, Decodable {
    static let databaseTableName = "models"
    typealias Columns = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable, ColumnExpression {
        case id, configJSON = "config_json", source, origin
    }
    var id: String
    var configJSON: String
    var source: String
    var origin: CatalogOrigin
}

struct ModelAliasRow: TableRow, Decodable {
    static let databaseTableName = "model_aliases"
    typealias Columns = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable, ColumnExpression {
        case alias, modelID = "model_id"
    }
    var alias: String
    var modelID: String
}

// MARK: Fleet

/// Decoded by position (the order of `Columns`), for speed: `fetchServers` reads every server.
/// Fetch it only through its own requests (`ServerRow.order(...)`), which select `Columns` in order.
struct ServerRow: TableRow {
    static let databaseTableName = "servers"
    enum Columns: String, CaseIterable, ColumnExpression {
        case id, name, gpuTypeID = "gpu_type_id", gpuCount = "gpu_count", hostMemoryBytes = "host_memory_bytes", site, rack, fabric
        case source, state, partitions, gresType = "gres_type"
    }
    var id: Int
    var name: String
    var gpuTypeID: String
    var gpuCount: Int
    var hostMemoryBytes: Int
    var site: String
    var rack: String
    /// NULL for servers added before migration 0004 (see `PlanStore.usualFabrics`).
    var fabric: String?
    var origin: ServerOrigin

    init(row: Row) throws {
        id = row[0]
        name = row[1]
        gpuTypeID = row[2]
        gpuCount = row[3]
        hostMemoryBytes = row[4]
        site = row[5]
        rack = row[6]
        fabric = row[7]
        let source: String = row[8]
        let state: String = row[9]
        guard let src = FleetSource(rawValue: source) else { throw StoreError.unknownStoredValue(path: "", table: "servers", column: "source", value: source) }
        guard let st = NodeState(rawValue: state) else { throw StoreError.unknownStoredValue(path: "", table: "servers", column: "state", value: state) }
        let partitions: String = row[10]
        origin = ServerOrigin(
            source: src, state: st, partitions: partitions.isEmpty ? [] : partitions.split(separator: ",").map(String.init), gresType: row[11])
    }
}

/// One physical GPU. Decoded by position like `ServerRow` (100,000 GPUs are read per `plan place`).
struct GPURow: TableRow {
    static let databaseTableName = "gpus"
    enum Columns: String, CaseIterable, ColumnExpression {
        case id, serverID = "server_id", idx, gpuTypeID = "gpu_type_id", memoryBytes = "memory_bytes"
    }
    var id: Int
    var serverID: Int
    var idx: Int
    var gpuTypeID: String
    var memoryBytes: Int

    init(row: Row) throws {
        id = row[0]
        serverID = row[1]
        idx = row[2]
        gpuTypeID = row[3]
        memoryBytes = row[4]
    }
}

// MARK: Jobs and placements

struct JobRow: TableRow, Decodable {
    static let databaseTableName = "jobs"
    typealias Columns = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable, ColumnExpression {
        case id, name, kind, mode, modelID = "model_id", modelConfigJSON = "model_config_json", specJSON = "spec_json"
        case replicas, priority, gpus, gpuMemoryBytes = "gpu_memory_bytes", sameServer = "same_server"
        case headroom, strategy, tp, pp, minFabric = "min_fabric", pinned
    }
    var id: Int
    var name: String
    var kind: String
    var mode: String?
    var modelID: String?
    var modelConfigJSON: String?
    var specJSON: String
    var replicas: Int
    var priority: Int
    var gpus: Int?
    var gpuMemoryBytes: Int?
    var sameServer: Bool
    var headroom: Double?
    var strategy: String?
    var tp: Int?
    var pp: Int?
    var minFabric: String?
    var pinned: Bool
}

struct JobGPUTypeRow: TableRow, Decodable {
    static let databaseTableName = "job_gpu_types"
    typealias Columns = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable, ColumnExpression {
        case jobID = "job_id", gpuTypeID = "gpu_type_id"
    }
    var jobID: Int
    var gpuTypeID: String
}

struct PlacementRow: TableRow, Decodable {
    static let databaseTableName = "placements"
    typealias Columns = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable, ColumnExpression {
        case id, jobID = "job_id", replica, strategy, tp, pp, dp, gpuTypeID = "gpu_type_id", perGPUBytes = "per_gpu_bytes"
        case hostBytes = "host_bytes"
    }
    var id: Int
    var jobID: Int
    var replica: Int
    var strategy: String
    var tp: Int
    var pp: Int
    var dp: Int
    var gpuTypeID: String
    var perGPUBytes: Int
    var hostBytes: Int
}

struct PlacementGPURow: TableRow, Decodable {
    static let databaseTableName = "placement_gpus"
    typealias Columns = CodingKeys
    enum CodingKeys: String, CodingKey, CaseIterable, ColumnExpression {
        case placementID = "placement_id", gpuID = "gpu_id"
    }
    var placementID: Int
    var gpuID: Int
}

/// Every table a record stands for; `RecordsTests` compares each with the migrated schema.
let tableRows: [any TableRow.Type] = [
    GPUTypeRow.self, GPUAliasRow.self, ServerSKURow.self, ModelRow.self, ModelAliasRow.self, ServerRow.self, GPURow.self,
    JobRow.self, JobGPUTypeRow.self, PlacementRow.self, PlacementGPURow.self,
]

// MARK: Joins (computed columns)

/// A held GPU and what holds it: the job's name, the replica, and the placement's host memory
/// split evenly over its GPUs. The query's columns are computed; decoded by position.
struct HeldGPURow: FetchableRecord, Sendable {
    static let sql = """
        WITH sizes AS (SELECT placement_id, count(*) AS n FROM placement_gpus GROUP BY placement_id)
        SELECT pg.gpu_id, j.name, p.replica, p.host_bytes / sizes.n
        FROM placement_gpus pg JOIN placements p ON p.id = pg.placement_id JOIN jobs j ON j.id = p.job_id
        JOIN sizes ON sizes.placement_id = p.id
        """
    var gpuID: Int
    var job: String
    var replica: Int
    var hostBytesPerGPU: Int

    init(row: Row) throws {
        gpuID = row[0]
        job = row[1]
        replica = row[2]
        hostBytesPerGPU = row[3]
    }
}

/// A GPU a placement holds, with its server's name and its index there. Decoded by position.
struct PlacedGPURow: FetchableRecord, Sendable {
    static let sql = """
        SELECT pg.placement_id, s.name, g.idx, g.id FROM placement_gpus pg
        JOIN gpus g ON g.id = pg.gpu_id JOIN servers s ON s.id = g.server_id
        """
    var placementID: Int
    var server: String
    var index: Int
    var gpuID: Int

    init(row: Row) throws {
        placementID = row[0]
        server = row[1]
        index = row[2]
        gpuID = row[3]
    }
}

/// A job with the config of its catalog model, if any: `jobs` left-joined to `models`.
struct JobWithCatalogRow: FetchableRecord, Sendable {
    static let sql = "SELECT \(JobRow.columnList("j")), m.config_json FROM jobs j LEFT JOIN models m ON m.id = j.model_id"
    var job: JobRow
    var catalogConfigJSON: String?

    init(row: Row) throws {
        job = try JobRow(row: row)
        // The one column after the job's: the model's config.
        catalogConfigJSON = row[JobRow.Columns.allCases.count]
    }
}
