import ArgumentParser
import Foundation
import Inventory
import MemoryEstimation
import PlanCore
import PlanModel
import Reports

struct GPUs: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpus", abstract: "List the GPU types in the catalog, set their hourly prices, or name them for imports.",
        discussion: """
            Memory is what the driver reports (nvidia-smi total) where known. TFLOPS are dense tensor peaks; prices are \
            reference purchase prices and on-demand prices per GPU-hour, with their sources in the JSON and Seeds/SOURCES.md. \
            An hourly price you set (set-price) is kept when the catalog is re-seeded.
            """,
        subcommands: [GPUList.self, GPUSetPrice.self, GPUAlias.self], defaultSubcommand: GPUList.self)

    @OptionGroup var global: GlobalOptions
    func run(in ctx: Context) throws { throw CleanExit.helpRequest(Self.self) }
}

struct GPUItem: Listing {
    var id, name, vendor: String
    var aliases: [String]
    var memoryBytes: Int
    var memorySource: String
    var cudaMemoryBytes: Int?
    var bf16, fp8, fp4: Bool
    var bandwidthBytesPerS: Int
    var interconnect: String
    var interconnectBytesPerS: Int
    var price: Int
    var priceSource: String
    var bf16Tflops, fp8Tflops, fp4Tflops: Double
    var tflopsSource: String
    var hourlyUsd: Double
    var hourlySource: String

    init(_ g: GPUType) {
        id = g.id
        name = g.name
        vendor = g.vendor
        aliases = g.aliases
        memoryBytes = g.memoryBytes
        memorySource = g.memorySource
        cudaMemoryBytes = g.cudaMemoryBytes
        bf16 = g.bf16
        fp8 = g.fp8
        fp4 = g.fp4
        bandwidthBytesPerS = g.bandwidthBytesPerSecond
        interconnect = g.interconnect
        interconnectBytesPerS = g.interconnectBytesPerSecond
        price = g.priceUSD
        priceSource = g.priceSource
        bf16Tflops = g.bf16TFLOPS
        fp8Tflops = g.fp8TFLOPS
        fp4Tflops = g.fp4TFLOPS
        tflopsSource = g.tflopsSource
        hourlyUsd = g.hourlyUSD
        hourlySource = g.hourlySource
    }

    static let csvHeader = [
        "id", "name", "vendor", "memory_bytes", "bf16", "fp8", "bandwidth_bytes_per_s", "interconnect",
        "interconnect_bytes_per_s", "price", "price_source", "fp4", "bf16_tflops", "fp8_tflops", "fp4_tflops", "hourly_usd",
    ]
    var csvRow: [String] {
        [id, name, vendor, String(memoryBytes), String(bf16), String(fp8), String(bandwidthBytesPerS), interconnect,
         String(interconnectBytesPerS), String(price), priceSource, String(fp4), Self.decimal(bf16Tflops), Self.decimal(fp8Tflops),
         Self.decimal(fp4Tflops), Self.decimal(hourlyUsd)]
    }
    static let tableHeader = ["ID", "NAME", "MEMORY", "BF16", "FP8", "FP4", "BANDWIDTH", "INTERCONNECT", "PRICE", "$/HOUR"]
    static let rightAligned: Set<Int> = [2, 3, 4, 5, 6, 8, 9]
    var tableRow: [String] {
        func tflops(_ has: Bool, _ t: Double) -> String { has ? (t > 0 ? Self.decimal(t) : "yes") : "no" }
        return [id, name, Human.gib(memoryBytes), tflops(true, bf16Tflops), tflops(fp8, fp8Tflops), tflops(fp4, fp4Tflops),
                Human.rate(bandwidthBytesPerS), "\(interconnect) \(Human.rate(interconnectBytesPerS))", Human.usd(price),
                hourlyUsd > 0 ? String(format: "%.2f", hourlyUsd) : "-"]
    }

    /// A decimal without a trailing ".0" (989, 0.44, 1307.4).
    static func decimal(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(format: "%g", x)
    }
}

struct GPUList: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the GPU types: memory, dense TFLOPS (bf16/fp16, fp8, fp4), bandwidth, prices.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        ctx.out.render(try ctx.store(readOnly: true).gpuTypes().map(GPUItem.init), output.format)
    }
}

struct GPUSetPrice: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-price", abstract: "Set your on-demand price per GPU-hour for a GPU type (kept across re-seeding).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The GPU type id or alias (see `plan gpus`).") var gpu: String
    @Option(parsing: .unconditional, help: "Your price of one GPU-hour in USD, e.g. 2.49.") var hourly: Double?
    @Flag(help: "Forget your price; use the catalog's on-demand price.") var reset = false
    @OptionGroup var output: FormatOptions

    func validate() throws {
        if hourly == nil && !reset { throw ValidationError("give --hourly or --reset") }
        if let h = hourly, !(h >= 0 && h <= 10_000) {
            throw ValidationError("invalid --hourly \(h); expected USD per GPU-hour from 0 to 10000")
        }
    }

    func run(in ctx: Context) throws {
        let g = try ctx.store().setGPUHourlyPrice(gpu: gpu, hourlyUSD: reset ? nil : hourly)
        ctx.out.render([GPUItem(g)], output.format)
    }
}

struct SKUs: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "skus", abstract: "List purchasable server shapes, or set their prices.",
        discussion: "Prices you set (set-price) and SKUs you add are kept when the catalog is re-seeded.",
        subcommands: [SKUList.self, SKUSetPrice.self, SKUAdd.self], defaultSubcommand: SKUList.self)

    @OptionGroup var global: GlobalOptions
    /// A group: on its own it prints its help (and the subcommands) rather than nothing.
    func run(in ctx: Context) throws { throw CleanExit.helpRequest(Self.self) }
}

struct SKUItem: Listing {
    var id, name, gpu: String
    var gpusPerServer: Int
    var hostMemoryBytes: Int
    var cpuCores: Int
    var price: Int
    var listPrice: Int
    var userPrice: Int?
    var discountPercent: Double?
    var priceSource: String
    var origin: CatalogOrigin

    init(_ s: ServerSKU) {
        id = s.id
        name = s.name
        gpu = s.gpu
        gpusPerServer = s.gpusPerServer
        hostMemoryBytes = s.hostMemoryBytes
        cpuCores = s.cpuCores
        price = s.priceUSD
        listPrice = s.listPriceUSD
        userPrice = s.userPriceUSD
        discountPercent = s.discountBasisPoints.map { Double($0) / 100 }
        priceSource = s.priceSource
        origin = s.origin
    }

    static let csvHeader = ["id", "name", "gpu", "gpus_per_server", "host_memory_bytes", "cpu_cores", "price", "list_price", "price_source"]
    var csvRow: [String] {
        [id, name, gpu, String(gpusPerServer), String(hostMemoryBytes), String(cpuCores), String(price), String(listPrice), priceSource]
    }
    static let tableHeader = ["ID", "GPU", "GPUS", "HOST MEMORY", "PRICE", "NOTE"]
    static let rightAligned: Set<Int> = [2, 3, 4]
    var tableRow: [String] {
        var note = origin == .user ? "user-defined" : ""
        if userPrice != nil || discountPercent != nil {
            note = "list \(Human.usd(listPrice))"
            if let d = discountPercent { note += ", \(d)% off" }
        }
        return [id, gpu, String(gpusPerServer), Human.gib(hostMemoryBytes), Human.usd(price), note]
    }
}

struct SKUList: PlanCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List server SKUs (the default).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        ctx.out.render(try ctx.store(readOnly: true).skus().map(SKUItem.init), output.format)
    }
}

struct SKUSetPrice: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-price", abstract: "Set your price or discount for a server SKU (kept across re-seeding).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The SKU id (see `plan skus`).") var sku: String
    @Option(help: "Your price in whole USD.") var price: Int?
    @Option(help: "A discount in percent (0 to 99.99) applied to the price.") var discount: Double?
    @Flag(help: "Forget your price and discount; use the catalog's list price.") var reset = false
    @OptionGroup var output: FormatOptions

    func validate() throws {
        if price == nil && discount == nil && !reset {
            throw ValidationError("give --price, --discount or --reset")
        }
        if let p = price, !(0...1_000_000_000_000).contains(p) {
            throw ValidationError("invalid --price \(p); expected a whole number of USD from 0 to 1000000000000")
        }
        if let d = discount, !(d >= 0 && d < 100) {
            throw ValidationError("invalid --discount \(d); expected a percentage from 0 to 99.99")
        }
    }

    func run(in ctx: Context) throws {
        let sku = try ctx.store().setSKUPrice(
            id: sku, priceUSD: price, discountBasisPoints: discount.map { Int(($0 * 100).rounded()) }, clear: reset)
        ctx.out.render([SKUItem(sku)], output.format)
    }
}

struct SKUAdd: PlanCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add your own server SKU.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "An id for the SKU, e.g. 'my-4x-l40s'.") var id: String
    @Option(help: "GPU type id or alias (see `plan gpus`).") var gpu: String
    @Option(name: .customLong("gpus"), parsing: .unconditional, help: "GPUs per server.") var gpus: Int
    @Option(help: "Price of one server in whole USD.") var price: Int
    @Option(name: .customLong("host-memory"), parsing: .unconditional, help: "Host memory, e.g. 1TiB.") var hostMemory: String = "512GiB"
    @Option(help: "CPU cores.") var cpuCores: Int = 0
    @Option(help: "Display name.") var name: String?
    @OptionGroup var output: FormatOptions

    func validate() throws {
        try Args.count(gpus, flag: "--gpus", range: 1...1024)
        if !(0...1_000_000_000_000).contains(price) {
            throw ValidationError("invalid --price \(price); expected a whole number of USD from 0 to 1000000000000")
        }
        if id.isEmpty { throw ValidationError("the SKU id is empty") }
    }

    func run(in ctx: Context) throws {
        let host = try Args.size(hostMemory, flag: "--host-memory")
        let sku = try ctx.store().addSKU(
            ServerSKU(
                id: id, name: name ?? "\(gpus)x \(gpu) server", gpu: gpu, gpusPerServer: gpus, hostMemoryBytes: host,
                cpuCores: cpuCores, listPriceUSD: price, origin: .user))
        ctx.out.render([SKUItem(sku)], output.format)
    }
}

struct Models: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List the model catalog, or add a model from a config.json.",
        subcommands: [ModelList.self, ModelAdd.self], defaultSubcommand: ModelList.self)
    @OptionGroup var global: GlobalOptions
    /// A group: on its own it prints its help (and the subcommands) rather than nothing.
    func run(in ctx: Context) throws { throw CleanExit.helpRequest(Self.self) }
}

struct ModelItem: Listing {
    var id: String
    var aliases: [String]
    var modelType: String
    var parameters: Int
    var activeParameters: Int
    var layers, hiddenSize, heads, kvHeads, headDim, intermediateSize, vocabSize, contextLength: Int
    var experts: Int
    var tiedEmbeddings: Bool
    var slidingWindow: Int?
    var source: String
    var origin: CatalogOrigin

    init(_ m: CatalogModel, _ a: ModelArchitecture) {
        let p = ParameterCount(a)
        id = m.id
        aliases = m.aliases
        modelType = a.modelType
        parameters = p.total
        activeParameters = p.active(expertsPerToken: a.expertsPerToken, experts: a.experts)
        layers = a.layers
        hiddenSize = a.hiddenSize
        heads = a.heads
        kvHeads = a.kvHeads
        headDim = a.headDim
        intermediateSize = a.intermediateSize
        vocabSize = a.vocabSize
        contextLength = a.maxPositions
        experts = a.experts
        tiedEmbeddings = a.tiedEmbeddings
        slidingWindow = a.slidingWindow
        source = m.source
        origin = m.origin
    }

    static let csvHeader = ["id", "parameters", "layers", "hidden_size", "heads", "kv_heads", "vocab_size", "context_length", "aliases"]
    var csvRow: [String] {
        [id, String(parameters), String(layers), String(hiddenSize), String(heads), String(kvHeads), String(vocabSize),
         String(contextLength), aliases.joined(separator: " ")]
    }
    static let tableHeader = ["ID", "PARAMETERS", "LAYERS", "HIDDEN", "HEADS", "KV", "VOCAB", "CONTEXT", "ALIAS"]
    static let rightAligned: Set<Int> = [1, 2, 3, 4, 5, 6, 7]
    var tableRow: [String] {
        [id, Human.grouped(parameters), String(layers), String(hiddenSize), String(heads), String(kvHeads), String(vocabSize),
         String(contextLength), aliases.first ?? ""]
    }
}

struct ModelList: PlanCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List catalog models (the default).")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "List the model_types the estimator knows, and those it refuses, instead of the catalog.") var supported = false
    @OptionGroup var output: FormatOptions

    /// One `model_type` and what the estimator does with it (from the code's own lists).
    struct Support: Listing {
        var modelType: String
        var support: String
        static let csvHeader = ["model_type", "support"]
        var csvRow: [String] { [modelType, support] }
        static let tableHeader = ["MODEL_TYPE", "SUPPORT"]
        static let rightAligned: Set<Int> = []
        var tableRow: [String] { [modelType, support] }

        static var all: [Support] {
            ModelArchitecture.knownTypes.map { Support(modelType: $0, support: "estimated: exact parameters (docs/estimator.md, Families)") }
                + ModelArchitecture.multimodalTypes.map {
                    Support(modelType: $0, support: "multimodal: the language model from text_config; the vision tower is left out")
                }
                + ModelArchitecture.hybridTypes.map {
                    Support(modelType: $0, support: "refused: recurrent or state-space layers are not modelled")
                }
        }
    }

    func run(in ctx: Context) throws {
        if supported {
            ctx.out.render(Support.all.sorted { $0.modelType < $1.modelType }, output.format)
            return
        }
        let items = try ctx.store(readOnly: true).models().compactMap { m -> ModelItem? in
            guard let a = try? ModelArchitecture(config: m.config, origin: m.id) else { return nil }
            return ModelItem(m, a)
        }
        ctx.out.render(items, output.format)
    }
}

struct ModelAdd: PlanCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Store a model from a Hugging Face config.json (a file or a folder holding one).")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Path to config.json or to a folder that contains one.") var config: String
    @Option(help: "The id to store it under (default: the folder's name).") var id: String?
    @Option(help: "Another name for it, e.g. an org/name Hub id. Repeatable.") var alias: [String] = []
    @OptionGroup var output: FormatOptions

    func run(in ctx: Context) throws {
        let (json, path) = try ModelResolver.readConfig(path: config)
        let arch = try ModelArchitecture(config: json, origin: path)
        let name = id ?? URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent
        guard !name.isEmpty, name != "/" else { throw PlanError.usage("give --id for the model read from '\(path)'") }
        let store = try ctx.store()
        try store.addModel(id: name, config: json, source: "user: \(path)", aliases: alias)
        let m = CatalogModel(id: name, aliases: alias, config: json, source: "user: \(path)", origin: .user)
        if output.format == .json {
            ctx.out.write(JSONOutput.encode(ModelItem(m, arch)))
        } else {
            ctx.out.line("added model '\(name)': \(Human.grouped(ParameterCount(arch).total)) parameters")
        }
    }
}
