import PlanModel

/// A server as the planner sees it: a GPU type, which GPUs are free, and host memory left.
public struct ServerState: Sendable, Equatable {
    public var name: String
    public var gpuType: String
    public var gpuCount: Int
    /// Indices of the free GPUs, ascending.
    public var free: [Int]
    /// Host memory not yet promised to placed work (for CPU offload).
    public var hostFree: Int
    /// Memory of each GPU (the smallest, if they differ).
    public var gpuMemory: Int
    /// The inter-server network it is on (servers with the same value reach each other over its
    /// fabric); nil: none, so nothing spans it and another server.
    public var network: String?
    /// The fabric's rate per port, Gb/s, and whether it does RDMA.
    public var fabricGbps: Int
    public var fabricRDMA: Bool

    public init(
        name: String, gpuType: String, gpuCount: Int, free: [Int], hostFree: Int, gpuMemory: Int, network: String? = "",
        fabricGbps: Int = 400, fabricRDMA: Bool = true
    ) {
        self.name = name
        self.gpuType = gpuType
        self.gpuCount = gpuCount
        self.free = free
        self.hostFree = hostFree
        self.gpuMemory = gpuMemory
        self.network = network
        self.fabricGbps = fabricGbps
        self.fabricRDMA = fabricRDMA
    }
}

/// One way to run a unit: `gpus` GPUs of `gpuType` in groups of `tp` that must share a server.
public struct UnitShape: Sendable, Hashable {
    public var gpuType: String
    /// tp x pp x dp.
    public var gpus: Int
    public var tp: Int
    public var pp: Int
    public var dp: Int
    public var strategy: PlacementStrategy
    /// All GPUs on one server (`--same-server`).
    public var sameServer: Bool
    /// Bytes each GPU needs (already checked against the type's memory and headroom).
    public var perGPUBytes: Int
    /// Host memory each GPU's share needs on its server (CPU offload), bytes.
    public var hostBytesPerGPU: Int
    /// What the network must offer when its groups span servers.
    public var fabric: FabricRequirement

    public init(
        gpuType: String, gpus: Int, tp: Int = 1, pp: Int = 1, dp: Int? = nil, strategy: PlacementStrategy = .training(.ddp), sameServer: Bool = false,
        perGPUBytes: Int, hostBytesPerGPU: Int = 0, fabric: FabricRequirement = .any
    ) {
        self.gpuType = gpuType
        self.gpus = gpus
        self.tp = tp
        self.pp = pp
        self.dp = dp ?? max(1, gpus / max(1, tp * pp))
        self.strategy = strategy
        self.sameServer = sameServer
        self.perGPUBytes = perGPUBytes
        self.hostBytesPerGPU = hostBytesPerGPU
        self.fabric = fabric
    }

    /// Tensor-parallel groups, each on one server.
    public var groups: Int { gpus / tp }
}

/// What the planner places all-or-nothing: a training job, a pre-sized job, or one inference replica.
public struct JobUnit: Sendable, Equatable {
    public var job: String
    public var replica: Int
    public var priority: Int
    /// The alternatives, in order of preference (the planner prefers fewer GPUs first).
    public var shapes: [UnitShape]
    /// Why no shape exists at all (no GPU type in the fleet is large enough), if that is the case.
    public var noShapeReason: String?

    public init(job: String, replica: Int = 0, priority: Int = 0, shapes: [UnitShape], noShapeReason: String? = nil) {
        self.job = job
        self.replica = replica
        self.priority = priority
        self.shapes = shapes
        self.noShapeReason = noShapeReason
    }
}

/// GPUs taken on one server.
public struct Allocation: Sendable, Equatable {
    public var server: Int
    public var gpus: [Int]
}

/// A placed unit.
public struct Assignment: Sendable, Equatable {
    public var unit: Int
    public var shape: UnitShape
    public var allocations: [Allocation]
}

/// A unit that could not be placed, and why, as a value (PlanCore renders it as one sentence a
/// person can act on: `UnplacedReason.sentence`).
public struct Unplaced: Sendable, Equatable {
    public var unit: Int
    public var reason: UnplacedReason
}

/// Why a unit was not placed (by `Planner`) or cannot be bought for (by `PurchasePlanner`).
public enum UnplacedReason: Sendable, Equatable {
    /// Sizing found no shape; its own explanation (`JobUnit.noShapeReason`).
    case noShape(String?)
    /// The fleet lacks room for its smallest shape.
    case noRoom(NoRoom)
    /// No server SKU in the catalog has this GPU type.
    case noSKUOfType(gpuType: String)
    /// The shape needs `needs` GPUs of `gpuType` in one server; the largest such SKU has `largest`.
    case widerThanSKUs(needs: Int, gpuType: String, largest: Int)
    /// No SKU holds it: GPU memory, or host memory for offload, too small.
    case noSKUHolds
    /// The shape needs more GPUs than one server of its type has (`largest`), and no SKU of that
    /// type has a fabric that meets its need to span servers.
    case noFabric(shape: UnitShape, largest: Int)

    /// The most free GPUs of one type on one server.
    public struct Block: Sendable, Equatable {
        public var server: String
        public var free: Int
    }

    /// Another shape the unit could take: how many GPUs of which type.
    public struct Alternative: Sendable, Equatable {
        public var gpus: Int
        public var gpuType: String
    }

    /// The fleet's state against the unit's smallest shape.
    public struct NoRoom: Sendable, Equatable {
        public var shape: UnitShape
        /// Whether the fleet has servers of the shape's GPU type at all.
        public var fleetHasType: Bool
        /// The server with the most free GPUs of that type, and how many.
        public var largestFree: Block?
        /// Free GPUs of that type in the whole fleet.
        public var freeOfType: Int
        /// Other GPU types it could run on (up to two): GPUs and type.
        public var alternatives: [Alternative]
        /// Enough GPUs of the type are free, but not on one network whose fabric meets its need.
        public var fabricBinds: Bool = false
        /// What holds the room it needs, when that is known.
        public var binding: Binding? = nil
    }

    /// The constraint that keeps a unit out, beyond what `NoRoom` states.
    public enum Binding: Sendable, Equatable {
        /// Free GPUs would hold it, but not the host memory its offload needs.
        case hostMemory
        /// It would fit without the work of higher priority placed in this run: `count` units, the
        /// first (by priority, then order) of them named.
        case higherPriority(count: Int, jobs: [String])
        /// It would fit without the work of its own priority placed in this run (the most of them
        /// that fit are placed).
        case samePriority(count: Int)
    }
}

/// The planner's answer.
public struct PlacementOutcome: Sendable, Equatable {
    public var assignments: [Assignment]
    public var unplaced: [Unplaced]
    /// Whether this is proved the most (priority-ordered) units that can be placed: every unit
    /// placed, or CBC proved the model's optimum.
    public var provedOptimal: Bool
    /// An upper bound on the units any plan could place: the most units whose smallest shapes fit in
    /// the free GPU count of their types (GPU-count relaxation; memory is already in the shapes).
    public var upperBound: Int
    /// CBC's bound on the model's objective (priority-weighted units minus GPUs), when it ran.
    public var solverBound: Double? = nil
    /// CBC's relative gap between the plan and that bound (0 when proved), when it ran.
    public var gap: Double? = nil
    /// The model CBC solved, when it ran. Over classes the objectives are solved level by level,
    /// and `solverBound` is then the most units that can be placed.
    public var model: SolverModel? = nil
}

/// Which mixed-integer model a plan was solved with.
public enum SolverModel: String, Sendable {
    /// A column per unit, shape and server (`PlacementModel`).
    case servers
    /// Interchangeable servers and units counted in classes (`ClassModel`).
    case classes
}
