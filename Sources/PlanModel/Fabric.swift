/// An inter-server network fabric (the scale-out network between servers, not NVLink inside one):
/// its nominal per-port rate and whether it does RDMA. Sources: docs/placement.md (fabrics).
public struct Fabric: Sendable, Equatable, Hashable {
    public var id: String
    public var gbps: Int
    public var rdma: Bool

    /// Bytes per second per port, one direction (Gb/s x 10^9 / 8).
    public var bytesPerSecond: Int { gbps * 125_000_000 }

    /// The fabrics `plan` knows, fastest first. The store's CHECK constraint lists the same ids.
    public static let all: [Fabric] = [
        Fabric(id: "ib-xdr-800", gbps: 800, rdma: true),
        Fabric(id: "ib-ndr-400", gbps: 400, rdma: true),
        Fabric(id: "roce-400", gbps: 400, rdma: true),
        Fabric(id: "ib-hdr-200", gbps: 200, rdma: true),
        Fabric(id: "roce-200", gbps: 200, rdma: true),
        Fabric(id: "ib-edr-100", gbps: 100, rdma: true),
        Fabric(id: "roce-100", gbps: 100, rdma: true),
        Fabric(id: "ethernet-100", gbps: 100, rdma: false),
        Fabric(id: "ethernet-25", gbps: 25, rdma: false),
        Fabric(id: "ethernet-10", gbps: 10, rdma: false),
        Fabric(id: "none", gbps: 0, rdma: false),
    ]

    /// No network: a server on it runs only work that fits inside it.
    public static let none = named("none")!

    public static func named(_ id: String) -> Fabric? { all.first { $0.id == id.lowercased() } }

    /// What training needs by default to span servers: 100 Gb/s with RDMA (NCCL over InfiniBand or
    /// RoCE); plain TCP Ethernet is too slow for gradient and pipeline traffic at scale.
    public static let trainingDefault = FabricRequirement(gbps: 100, rdma: true)
}

/// The least fabric a job needs to span servers.
public struct FabricRequirement: Sendable, Hashable, Codable {
    public var gbps: Int
    public var rdma: Bool

    public init(gbps: Int, rdma: Bool) {
        self.gbps = gbps
        self.rdma = rdma
    }

    /// The requirement a fabric id stands for (`--min-fabric roce-200`: at least 200 Gb/s with RDMA),
    /// or `any` (any network).
    public init?(parsing text: String) {
        if text.lowercased() == "any" {
            self.init(gbps: 0, rdma: false)
            return
        }
        guard let f = Fabric.named(text), f.id != "none" else { return nil }
        self.init(gbps: f.gbps, rdma: f.rdma)
    }

    /// Any network at all.
    public static let any = FabricRequirement(gbps: 0, rdma: false)

    public func admits(_ f: Fabric) -> Bool { f.id != "none" && f.gbps >= gbps && (f.rdma || !rdma) }

    /// "100 Gb/s RDMA", "25 Gb/s", or "any network".
    public var description: String {
        gbps == 0 && !rdma ? "any network" : "\(gbps) Gb/s\(rdma ? " RDMA" : "")"
    }
}
