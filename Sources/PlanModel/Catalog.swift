/// A kind of GPU from the catalog, with the facts the estimator and the planner need.
public struct GPUType: Sendable, Equatable, Codable {
    /// The GPU type a user's name means: its id, else one of its aliases (nvidia-smi's product
    /// name, for one), case-insensitively; ids win over aliases, then the catalog's order. The one
    /// lookup rule, used by the estimator, the store and the importers.
    public static func named(_ name: String, in gpus: [GPUType]) -> GPUType? {
        let n = name.lowercased()
        return gpus.first { $0.id.lowercased() == n } ?? gpus.first { $0.aliases.contains { $0.lowercased() == n } }
    }

    public var id: String
    public var name: String
    public var vendor: String
    public var aliases: [String]
    /// Memory as the driver reports it (nvidia-smi total), in bytes.
    public var memoryBytes: Int
    public var memorySource: String
    public var bf16: Bool
    public var fp8: Bool
    /// Native FP4 tensor cores (Blackwell NVFP4/MXFP4, MI355X).
    public var fp4: Bool
    public var bandwidthBytesPerSecond: Int
    public var interconnect: String
    public var interconnectBytesPerSecond: Int
    /// Reference price of one GPU in USD after any user override.
    public var priceUSD: Int
    public var priceSource: String
    /// Dense peak tensor TFLOPS: 16-bit (BF16, or FP16 where the GPU has no BF16), FP8 and FP4;
    /// 0 where the GPU has no such tensor cores or no figure is known.
    public var bf16TFLOPS: Double
    public var fp8TFLOPS: Double
    public var fp4TFLOPS: Double
    public var tflopsSource: String
    /// On-demand price of one GPU-hour in USD after any user override (0 = unknown).
    public var hourlyUSD: Double
    public var hourlySource: String
    /// The memory CUDA reports (cudaMemGetInfo total), less than nvidia-smi's, where measured.
    public var cudaMemoryBytes: Int?
    public var cudaMemorySource: String

    public init(
        id: String, name: String, vendor: String = "nvidia", aliases: [String] = [], memoryBytes: Int,
        memorySource: String = "", bf16: Bool = true, fp8: Bool = false, fp4: Bool = false, bandwidthBytesPerSecond: Int = 1,
        interconnect: String = "pcie4", interconnectBytesPerSecond: Int = 1, priceUSD: Int = 0,
        priceSource: String = "", bf16TFLOPS: Double = 0, fp8TFLOPS: Double = 0, fp4TFLOPS: Double = 0, tflopsSource: String = "",
        hourlyUSD: Double = 0, hourlySource: String = "", cudaMemoryBytes: Int? = nil, cudaMemorySource: String = ""
    ) {
        self.bf16TFLOPS = bf16TFLOPS
        self.fp8TFLOPS = fp8TFLOPS
        self.fp4TFLOPS = fp4TFLOPS
        self.tflopsSource = tflopsSource
        self.hourlyUSD = hourlyUSD
        self.hourlySource = hourlySource
        self.cudaMemoryBytes = cudaMemoryBytes
        self.cudaMemorySource = cudaMemorySource
        self.id = id
        self.name = name
        self.vendor = vendor
        self.aliases = aliases
        self.memoryBytes = memoryBytes
        self.memorySource = memorySource
        self.bf16 = bf16
        self.fp8 = fp8
        self.fp4 = fp4
        self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
        self.interconnect = interconnect
        self.interconnectBytesPerSecond = interconnectBytesPerSecond
        self.priceUSD = priceUSD
        self.priceSource = priceSource
    }
}

/// A purchasable server shape from the SKU catalog.
public struct ServerSKU: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var gpu: String
    public var gpusPerServer: Int
    public var hostMemoryBytes: Int
    public var cpuCores: Int
    /// Catalog list price in USD.
    public var listPriceUSD: Int
    /// The price a user set, if any (survives re-seeding).
    public var userPriceUSD: Int?
    /// A discount in basis points (100 = 1%), if any.
    public var discountBasisPoints: Int?
    public var priceSource: String
    /// "seed" for catalog rows, "user" for SKUs a user added.
    public var origin: CatalogOrigin
    /// Its usual inter-server fabric id (`Fabric.all`) and where that comes from.
    public var fabric: String
    public var fabricSource: String

    public init(
        id: String, name: String, gpu: String, gpusPerServer: Int, hostMemoryBytes: Int, cpuCores: Int = 0,
        listPriceUSD: Int, userPriceUSD: Int? = nil, discountBasisPoints: Int? = nil, priceSource: String = "",
        origin: CatalogOrigin = .seed, fabric: String = "none", fabricSource: String = ""
    ) {
        self.fabric = fabric
        self.fabricSource = fabricSource
        self.id = id
        self.name = name
        self.gpu = gpu
        self.gpusPerServer = gpusPerServer
        self.hostMemoryBytes = hostMemoryBytes
        self.cpuCores = cpuCores
        self.listPriceUSD = listPriceUSD
        self.userPriceUSD = userPriceUSD
        self.discountBasisPoints = discountBasisPoints
        self.priceSource = priceSource
        self.origin = origin
    }

    /// The price used for purchase planning: the user's price or the list price, less the discount,
    /// rounded to the nearest dollar.
    public var priceUSD: Int {
        let base = userPriceUSD ?? listPriceUSD
        guard let bp = discountBasisPoints, bp > 0 else { return base }
        // Whole dollars: base / 10^4 * (10^4 - bp) split so that no product exceeds 63 bits.
        let keep = 10_000 - bp
        return base / 10_000 * keep + ((base % 10_000) * keep + 5_000) / 10_000
    }
}

/// A model in the catalog: its Hugging Face config and the names users know it by.
public struct CatalogModel: Sendable, Equatable {
    public var id: String
    public var aliases: [String]
    public var config: JSONValue
    public var source: String
    public var origin: CatalogOrigin

    public init(id: String, aliases: [String], config: JSONValue, source: String, origin: CatalogOrigin = .seed) {
        self.id = id
        self.aliases = aliases
        self.config = config
        self.source = source
        self.origin = origin
    }
}

/// Where a catalog row comes from: the seeds shipped with plan (refreshed when they change), or
/// the user (never touched by re-seeding). The database's `origin` column holds the raw value.
public enum CatalogOrigin: String, Sendable, Codable, Equatable {
    case seed, user
}
