/// The fleet, its jobs and placements, and the catalogs as plain values: what the store reads and
/// writes and what the use cases (PlanCore) work on. No storage here; Inventory (SQLite) fills them.

/// A server to add: a name and a GPU type, with defaults for the rest.
public struct NewServer: Sendable, Equatable {
    public var name: String
    /// GPU type id or alias.
    public var gpu: String
    public var gpus: Int
    /// nil: the matching SKU's host memory, else 2 x the server's total GPU memory.
    public var hostMemoryBytes: Int?
    public var site: String
    public var rack: String
    /// Inter-server fabric id (`Fabric.all`); nil: the matching seeded SKU's, else "none".
    public var fabric: String?
    /// Where it was imported from, what its scheduler says of it, its Slurm partitions and GRES type.
    public var origin: ServerOrigin = ServerOrigin()

    public init(
        name: String, gpu: String, gpus: Int, hostMemoryBytes: Int? = nil, site: String = "", rack: String = "", fabric: String? = nil,
        origin: ServerOrigin = ServerOrigin()
    ) {
        self.origin = origin
        self.name = name
        self.gpu = gpu
        self.gpus = gpus
        self.hostMemoryBytes = hostMemoryBytes
        self.site = site
        self.rack = rack
        self.fabric = fabric
    }
}

/// The cluster a server was imported from; `.manual` for servers added by hand or from plan's CSV/JSON.
public enum FleetSource: String, Sendable, Equatable, Hashable, CaseIterable, Codable {
    case manual = ""
    case kubernetes
    case slurm
    case nvidiaSMI = "nvidia-smi"
}

/// What a cluster's scheduler says of a node. Only a ready server takes new work; the others are
/// kept and marked (Kubernetes: cordoned, NotReady; Slurm: DRAIN, DOWN).
public enum NodeState: String, Sendable, Equatable, Hashable, CaseIterable, Codable {
    case ready
    case unschedulable
    case notReady = "not-ready"
    case drain
    case down
}

/// Where a server came from and what its cluster knows of it.
public struct ServerOrigin: Sendable, Equatable, Hashable {
    public var source: FleetSource
    public var state: NodeState
    /// Slurm partitions, in the order the node lists them.
    public var partitions: [String]
    /// The GRES type of its GPUs in Slurm (`gpu:<type>:<n>`), "" when unknown.
    public var gresType: String

    public init(source: FleetSource = .manual, state: NodeState = .ready, partitions: [String] = [], gresType: String = "") {
        self.source = source
        self.state = state
        self.partitions = partitions
        self.gresType = gresType
    }
}

/// A problem with one row of a batch (an import file line, or the k-th server of a batch).
public struct RowError: Error, Equatable, CustomStringConvertible {
    /// Zero-based position in the batch.
    public var index: Int
    public var reason: Reason

    /// What is wrong with the row; `description` is one sentence naming the bad value.
    public enum Reason: Equatable, Sendable {
        case invalidName(Names.Problem)
        case priorityOutOfRange(job: String, priority: Int, valid: ClosedRange<Int>)
        case modelConfigTooLarge(job: String, limit: Int)
        case duplicateJob(name: String)
        case replicasOutOfRange(job: String, replicas: Int)
        case unknownModel(model: String, job: String)
        case unknownJobGPUType(type: String, job: String, valid: [String])
        case unknownServerGPU(gpu: String, valid: [String])
        case duplicateServer(name: String)
        case gpuCountOutOfRange(server: String, gpus: Int)
        case hostMemoryNotPositive(server: String, bytes: Int)
        case unknownFabric(server: String, fabric: String)
        case unknownMinFabric(job: String, fabric: String)
    }

    public init(index: Int, _ reason: Reason) {
        self.index = index
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .invalidName(let problem): problem.message
        case .priorityOutOfRange(let job, let priority, let valid):
            "invalid priority \(priority) for job '\(job)'; expected a whole number from \(valid.lowerBound) to \(valid.upperBound)"
        case .modelConfigTooLarge(let job, let limit): "the model config of job '\(job)' is larger than \(limit) bytes"
        case .duplicateJob(let name): "a job named '\(name)' already exists; choose another name or remove it first"
        case .replicasOutOfRange(let job, let replicas): "invalid replicas \(replicas) for job '\(job)'; expected 1 to 100000"
        case .unknownModel(let model, let job): "unknown model '\(model)' for job '\(job)'; see `plan models`"
        case .unknownJobGPUType(let type, let job, let valid):
            "unknown GPU type '\(type)' for job '\(job)'; valid: \(valid.joined(separator: ", "))"
        case .unknownServerGPU(let gpu, let valid):
            "unknown GPU '\(Names.escaped(gpu))'; valid GPU ids: \(valid.joined(separator: ", "))"
        case .duplicateServer(let name): "a server named '\(name)' already exists; choose another name or remove it first"
        case .gpuCountOutOfRange(let server, let gpus): "invalid GPU count \(gpus) for server '\(server)'; expected 1 ... 1024"
        case .hostMemoryNotPositive(let server, let bytes):
            "invalid host memory \(bytes) for server '\(server)'; expected a positive size"
        case .unknownMinFabric(let job, let fabric):
            "unknown minimum fabric '\(Names.escaped(fabric))' for job '\(job)'; valid: any, "
                + Fabric.all.filter { $0 != .none }.map(\.id).joined(separator: ", ")
        case .unknownFabric(let server, let fabric):
            "unknown fabric '\(Names.escaped(fabric))' for server '\(server)'; valid: \(Fabric.all.map(\.id).joined(separator: ", "))"
        }
    }
}

/// One GPU of a server and what holds it.
public struct GPUSlot: Sendable, Equatable {
    public var id: Int
    public var index: Int
    public var memoryBytes: Int
    /// The job holding this GPU, if any.
    public var job: String?
    public var replica: Int?
    /// Host memory the holding placement takes per GPU (CPU offload).
    public var hostBytes: Int = 0

    public init(id: Int, index: Int, memoryBytes: Int, job: String? = nil, replica: Int? = nil, hostBytes: Int = 0) {
        self.id = id
        self.index = index
        self.memoryBytes = memoryBytes
        self.job = job
        self.replica = replica
        self.hostBytes = hostBytes
    }
}

/// A server with its GPUs, as `plan servers` shows it.
public struct ServerInfo: Sendable, Equatable {
    public var id: Int
    public var name: String
    public var gpuType: String
    public var gpuCount: Int
    public var gpuMemoryBytes: Int
    public var hostMemoryBytes: Int
    public var site: String
    public var rack: String
    public var gpus: [GPUSlot]
    /// Its inter-server fabric id (`Fabric.all`).
    public var fabric: String
    public var origin: ServerOrigin

    public var freeGPUs: Int { gpus.count(where: { $0.job == nil }) }
    /// Whether it takes new work: its cluster says it is ready (not cordoned, drained or down).
    public var takesWork: Bool { origin.state == .ready }
    /// The GPUs new work may use: the free ones of a server that takes work.
    public var availableGPUs: [GPUSlot] { takesWork ? gpus.filter { $0.job == nil } : [] }

    public init(
        id: Int, name: String, gpuType: String, gpuCount: Int, gpuMemoryBytes: Int, hostMemoryBytes: Int, site: String, rack: String,
        gpus: [GPUSlot], fabric: String = "none", origin: ServerOrigin = ServerOrigin()
    ) {
        self.origin = origin
        self.fabric = fabric
        self.id = id
        self.name = name
        self.gpuType = gpuType
        self.gpuCount = gpuCount
        self.gpuMemoryBytes = gpuMemoryBytes
        self.hostMemoryBytes = hostMemoryBytes
        self.site = site
        self.rack = rack
        self.gpus = gpus
    }
}

/// A job to add: an LLM workload sized by the estimator, or a pre-sized one.
public struct NewJob: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case llm, sized }
    public var name: String
    public var kind: Kind
    public var mode: Mode?
    /// Catalog model id (LLM jobs from the catalog).
    public var modelID: String?
    /// The config of a model given as a path (stored with the job).
    public var modelConfig: JSONValue?
    /// The estimator flags, as JSON.
    public var spec: JSONValue
    public var replicas: Int
    public var priority: Int
    public var gpus: Int?
    public var gpuMemoryBytes: Int?
    public var sameServer: Bool
    /// Allowed GPU types (ids or aliases); empty = any.
    public var gpuTypes: [String]
    public var headroom: Double?
    public var strategy: Strategy?
    public var tp: Int?
    public var pp: Int?
    /// The least fabric it needs to span servers, as a fabric id or "any"; nil: `Fabric.trainingDefault`.
    public var minFabric: String?
    /// Running work: no plan moves it (`plan job pin`).
    public var pinned: Bool

    /// What it needs of the network to span servers.
    public var fabricRequirement: FabricRequirement {
        minFabric.flatMap { FabricRequirement(parsing: $0) } ?? Fabric.trainingDefault
    }

    public init(
        name: String, kind: Kind, mode: Mode? = nil, modelID: String? = nil, modelConfig: JSONValue? = nil,
        spec: JSONValue = .object([:]), replicas: Int = 1, priority: Int = 0, gpus: Int? = nil, gpuMemoryBytes: Int? = nil,
        sameServer: Bool = false, gpuTypes: [String] = [], headroom: Double? = nil, strategy: Strategy? = nil, tp: Int? = nil,
        pp: Int? = nil, minFabric: String? = nil, pinned: Bool = false
    ) {
        self.minFabric = minFabric
        self.pinned = pinned
        self.name = name
        self.kind = kind
        self.mode = mode
        self.modelID = modelID
        self.modelConfig = modelConfig
        self.spec = spec
        self.replicas = replicas
        self.priority = priority
        self.gpus = gpus
        self.gpuMemoryBytes = gpuMemoryBytes
        self.sameServer = sameServer
        self.gpuTypes = gpuTypes
        self.headroom = headroom
        self.strategy = strategy
        self.tp = tp
        self.pp = pp
    }
}

/// How a placed unit runs: the label stored in `placements.strategy` and shown as STRATEGY.
public enum PlacementStrategy: Sendable, Hashable {
    /// A pre-sized job: N whole GPUs of at least so much memory.
    case sized
    /// One inference replica.
    case replica
    /// A training job under this data-parallel strategy.
    case training(Strategy)
}

extension PlacementStrategy: RawRepresentable, Codable, CustomStringConvertible {
    /// The stored and printed label: "sized", "replica", or the training strategy's ("ddp", "zero3", ...).
    public init?(rawValue: String) {
        switch rawValue {
        case "sized": self = .sized
        case "replica": self = .replica
        default:
            guard let s = Strategy(rawValue: rawValue) else { return nil }
            self = .training(s)
        }
    }

    public var rawValue: String {
        switch self {
        case .sized: "sized"
        case .replica: "replica"
        case .training(let s): s.rawValue
        }
    }

    public var description: String { rawValue }
}

/// Where one unit of a job runs.
public struct PlacementRecord: Sendable, Equatable {
    public var id: Int
    public var replica: Int
    public var strategy: PlacementStrategy
    public var tp: Int
    public var pp: Int
    public var dp: Int
    public var gpuType: String
    public var perGPUBytes: Int
    public var hostBytes: Int
    /// (server name, GPU indices), servers in natural order.
    public var allocations: [(server: String, gpus: [Int])]
    /// Database ids of the GPUs held.
    public var gpuIDs: [Int]

    public init(
        id: Int, replica: Int, strategy: PlacementStrategy, tp: Int, pp: Int, dp: Int, gpuType: String, perGPUBytes: Int,
        hostBytes: Int,
        allocations: [(server: String, gpus: [Int])], gpuIDs: [Int]
    ) {
        self.id = id
        self.replica = replica
        self.strategy = strategy
        self.tp = tp
        self.pp = pp
        self.dp = dp
        self.gpuType = gpuType
        self.perGPUBytes = perGPUBytes
        self.hostBytes = hostBytes
        self.allocations = allocations
        self.gpuIDs = gpuIDs
    }

    public static func == (a: PlacementRecord, b: PlacementRecord) -> Bool {
        a.id == b.id && a.replica == b.replica && a.gpuIDs == b.gpuIDs && a.strategy == b.strategy && a.tp == b.tp
            && a.pp == b.pp && a.dp == b.dp && a.gpuType == b.gpuType && a.perGPUBytes == b.perGPUBytes
            && a.hostBytes == b.hostBytes
    }
}

/// A stored job with its placements.
public struct JobRecord: Sendable, Equatable {
    public var id: Int
    public var job: NewJob
    /// The model's config (from the catalog or stored with the job).
    public var modelConfig: JSONValue?
    public var placements: [PlacementRecord]

    public var name: String { job.name }
    /// Placed when every replica (or the one gang) is placed.
    public var isPlaced: Bool { placements.count >= job.replicas }

    public init(id: Int, job: NewJob, modelConfig: JSONValue?, placements: [PlacementRecord]) {
        self.id = id
        self.job = job
        self.modelConfig = modelConfig
        self.placements = placements
    }
}

/// Everything the planner reads, from one consistent transaction.
public struct PlanningSnapshot: Sendable {
    public var servers: [ServerInfo]
    public var jobs: [JobRecord]
    public var catalog: CatalogSnapshot

    public init(servers: [ServerInfo], jobs: [JobRecord], catalog: CatalogSnapshot) {
        self.servers = servers
        self.jobs = jobs
        self.catalog = catalog
    }
}

/// A placement to write: a job's unit on specific GPUs.
public struct NewPlacement: Sendable, Equatable {
    public var job: String
    public var replica: Int
    public var strategy: PlacementStrategy
    public var tp: Int
    public var pp: Int
    public var dp: Int
    public var gpuType: String
    public var perGPUBytes: Int
    public var hostBytes: Int
    /// Database ids of the GPUs (`GPUSlot.id`).
    public var gpuIDs: [Int]

    public init(
        job: String, replica: Int, strategy: PlacementStrategy, tp: Int, pp: Int, dp: Int, gpuType: String, perGPUBytes: Int,
        hostBytes: Int,
        gpuIDs: [Int]
    ) {
        self.job = job
        self.replica = replica
        self.strategy = strategy
        self.tp = tp
        self.pp = pp
        self.dp = dp
        self.gpuType = gpuType
        self.perGPUBytes = perGPUBytes
        self.hostBytes = hostBytes
        self.gpuIDs = gpuIDs
    }
}

/// What a planning run changes: placements to drop (by id, for a repack) and placements to add.
public struct PlanChanges: Sendable {
    public var remove: [Int]
    public var add: [NewPlacement]
    /// Jobs sized by their traffic: the replicas the plan gives them (stored as the job's replica count).
    public var replicas: [String: Int]

    public init(remove: [Int] = [], add: [NewPlacement] = [], replicas: [String: Int] = [:]) {
        self.remove = remove
        self.add = add
        self.replicas = replicas
    }
}

/// The three catalogs as plain values: from the database, or straight from the seed files when a
/// command needs no database (`plan estimate`).
public struct CatalogSnapshot: Sendable {
    public var gpus: [GPUType]
    public var skus: [ServerSKU]
    public var models: [CatalogModel]

    public init(gpus: [GPUType], skus: [ServerSKU], models: [CatalogModel]) {
        self.gpus = gpus
        self.skus = skus
        self.models = models
    }

    /// The GPU type with this id or alias (case-insensitive).
    public func gpu(named name: String) -> GPUType? {
        GPUType.named(name, in: gpus)
    }

    /// The model with this id or alias (case-insensitive).
    public func model(named name: String) -> CatalogModel? {
        let n = name.lowercased()
        return models.first { $0.id.lowercased() == n } ?? models.first { $0.aliases.contains { $0.lowercased() == n } }
    }
}

/// What the use cases need from a store of servers, jobs and placements (Inventory's SQLite
/// `PlanStore` is one). Planning reads a snapshot, computes outside any lock, and applies its
/// changes only if nothing else committed in between.
public protocol InventoryStore {
    /// The planner's view and a version that changes whenever any connection commits.
    func versionedSnapshot() throws -> (snapshot: PlanningSnapshot, version: Int)
    /// Applies `changes` in one transaction if the store is still at `version`; false (and nothing
    /// written) otherwise.
    func apply(_ changes: PlanChanges, ifUnchangedSince version: Int) throws -> Bool
    /// Reads a snapshot, computes and applies under the write lock: the fallback for a busy store.
    func applyLocked<T>(_ body: (PlanningSnapshot) throws -> (PlanChanges, T)) throws -> T
}

/// What syncing the fleet with a cluster's node list does (or, in a dry run, would do).
public struct SyncReport: Sendable, Equatable {
    public struct Change: Sendable, Equatable {
        public var server: String
        /// "field: before -> after" for each field that changes.
        public var fields: [String]

        public init(server: String, fields: [String]) {
            self.server = server
            self.fields = fields
        }
    }
    public var added: [String] = []
    public var changed: [Change] = []
    public var unchanged = 0
    /// Servers imported from the same source that the list no longer has.
    public var missing: [String] = []
    /// Missing servers removed (`prune`).
    public var removed: [String] = []
    /// Jobs unplaced because their server changed GPUs or was removed (`force`).
    public var unplacedJobs: [String] = []
    /// A dry run found changes that would be refused without `force` (they unplace `unplacedJobs`).
    public var needsForce = false

    public init() {}
}

