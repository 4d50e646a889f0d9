import Foundation
import GRDB
import PlanModel

extension PlanStore {
    /// Loads the seed files into the catalog tables when they changed since the last load.
    ///
    /// Seed rows are upserted by id: catalog facts are refreshed, while what a user set
    /// (`user_price_usd`, discounts, user-added rows with their own ids) is never overwritten.
    func seedIfNeeded(force: Bool = false) throws {
        let (hash, _) = try SeedFiles.hash(in: resources)
        let stored = try read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'seed_hash'") }
        if stored == hash && !force { return }
        let seeds = try SeedFiles.load(from: resources)
        try maintenanceWrite { db in
            try Self.applySeeds(seeds, db)
            try db.execute(
                sql: "INSERT INTO meta (key, value) VALUES ('seed_hash', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [seeds.hash])
        }
    }

    /// Re-loads the catalog seeds even if unchanged (`plan init --reseed`).
    public func reseed() throws { try seedIfNeeded(force: true) }

    static func applySeeds(_ seeds: SeedFiles, _ db: Database) throws {
        for g in seeds.gpus {
            try db.execute(
                sql: """
                    INSERT INTO gpu_types (id, name, vendor, memory_bytes, memory_source, bf16, fp8, fp4,
                        bandwidth_bytes_per_s, interconnect, interconnect_bytes_per_s, price_usd, price_source,
                        bf16_tflops, fp8_tflops, fp4_tflops, tflops_source, hourly_usd, hourly_source,
                        cuda_memory_bytes, cuda_memory_source, origin)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'seed')
                    ON CONFLICT(id) DO UPDATE SET name = excluded.name, vendor = excluded.vendor,
                        memory_bytes = excluded.memory_bytes, memory_source = excluded.memory_source,
                        bf16 = excluded.bf16, fp8 = excluded.fp8, fp4 = excluded.fp4,
                        bandwidth_bytes_per_s = excluded.bandwidth_bytes_per_s, interconnect = excluded.interconnect,
                        interconnect_bytes_per_s = excluded.interconnect_bytes_per_s,
                        price_usd = excluded.price_usd, price_source = excluded.price_source,
                        bf16_tflops = excluded.bf16_tflops, fp8_tflops = excluded.fp8_tflops, fp4_tflops = excluded.fp4_tflops,
                        tflops_source = excluded.tflops_source, hourly_usd = excluded.hourly_usd, hourly_source = excluded.hourly_source,
                        cuda_memory_bytes = excluded.cuda_memory_bytes, cuda_memory_source = excluded.cuda_memory_source
                    WHERE gpu_types.origin = 'seed'
                    """,
                arguments: [
                    g.id, g.name, g.vendor, g.memory_bytes, g.memory_source, g.bf16, g.fp8, g.fp4, g.bandwidth_bytes_per_s,
                    g.interconnect, g.interconnect_bytes_per_s, g.price_usd, g.price_source, g.bf16_tflops, g.fp8_tflops,
                    g.fp4_tflops, g.tflops_source, g.hourly_usd, g.hourly_source, g.cuda_memory_bytes, g.cuda_memory_source,
                ])
            for a in g.aliases {
                try db.execute(
                    sql: "INSERT INTO gpu_aliases (alias, gpu_id) VALUES (?, ?) ON CONFLICT(alias) DO NOTHING",
                    arguments: [a, g.id])
            }
        }
        for s in seeds.skus {
            try db.execute(
                sql: """
                    INSERT INTO server_skus (id, name, gpu_id, gpus_per_server, host_memory_bytes, cpu_cores,
                        price_usd, price_source, fabric, fabric_source, origin)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'seed')
                    ON CONFLICT(id) DO UPDATE SET name = excluded.name, gpu_id = excluded.gpu_id,
                        gpus_per_server = excluded.gpus_per_server, host_memory_bytes = excluded.host_memory_bytes,
                        cpu_cores = excluded.cpu_cores, price_usd = excluded.price_usd,
                        price_source = excluded.price_source, fabric = excluded.fabric, fabric_source = excluded.fabric_source
                    WHERE server_skus.origin = 'seed'
                    """,
                arguments: [
                    s.id, s.name, s.gpu, s.gpus_per_server, s.host_memory_bytes, s.cpu_cores, s.price_usd,
                    s.price_source, s.fabric, s.fabric_source,
                ])
        }
        for m in seeds.models {
            try db.execute(
                sql: """
                    INSERT INTO models (id, config_json, source, origin) VALUES (?, ?, ?, 'seed')
                    ON CONFLICT(id) DO UPDATE SET config_json = excluded.config_json, source = excluded.source
                    WHERE models.origin = 'seed'
                    """,
                arguments: [m.id, m.config.encodedString(), m.source])
            for a in m.aliases {
                try db.execute(
                    sql: "INSERT INTO model_aliases (alias, model_id) VALUES (?, ?) ON CONFLICT(alias) DO NOTHING",
                    arguments: [a, m.id])
            }
        }
    }

    // MARK: GPU types

    /// All GPU types, sorted by id.
    public func gpuTypes() throws -> [GPUType] {
        try read { db in try Self.fetchGPUTypes(db) }
    }

    static func fetchGPUTypes(_ db: Database) throws -> [GPUType] {
        var aliases: [String: [String]] = [:]
        for a in try GPUAliasRow.order(GPUAliasRow.Columns.alias).fetchAll(db) {
            aliases[a.gpuID, default: []].append(a.alias)
        }
        return try GPUTypeRow.order(GPUTypeRow.Columns.id).fetchAll(db).map { r in
            GPUType(
                id: r.id, name: r.name, vendor: r.vendor, aliases: aliases[r.id] ?? [], memoryBytes: r.memoryBytes,
                memorySource: r.memorySource, bf16: r.bf16, fp8: r.fp8, fp4: r.fp4, bandwidthBytesPerSecond: r.bandwidthBytesPerSecond,
                interconnect: r.interconnect, interconnectBytesPerSecond: r.interconnectBytesPerSecond,
                priceUSD: r.userPriceUSD ?? r.priceUSD, priceSource: r.priceSource, bf16TFLOPS: r.bf16TFLOPS, fp8TFLOPS: r.fp8TFLOPS,
                fp4TFLOPS: r.fp4TFLOPS, tflopsSource: r.tflopsSource, hourlyUSD: r.userHourlyUSD ?? r.hourlyUSD,
                hourlySource: r.userHourlyUSD != nil ? "set by you (plan gpus set-price)" : r.hourlySource,
                cudaMemoryBytes: r.cudaMemoryBytes, cudaMemorySource: r.cudaMemorySource)
        }
    }

    /// Sets (or, with nil, forgets) a user's price per GPU-hour; it survives re-seeding.
    public func setGPUHourlyPrice(gpu name: String, hourlyUSD: Double?) throws -> GPUType {
        try write { db in
            let gpus = try Self.fetchGPUTypes(db)
            guard let g = GPUType.named(name, in: gpus) else { throw StoreError.unknownGPU(id: name, valid: gpus.map(\.id)) }
            try db.execute(sql: "UPDATE gpu_types SET user_hourly_usd = ? WHERE id = ?", arguments: [hourlyUSD, g.id])
            return try Self.fetchGPUTypes(db).first { $0.id == g.id }!
        }
    }

    /// Names a GPU type by another product name (kept across re-seeding: seeding never removes aliases).
    public func addGPUAlias(_ raw: String, gpu name: String) throws -> GPUType {
        let alias = try Names.checked(raw, .label("alias"))
        return try write { db in
            let gpus = try Self.fetchGPUTypes(db)
            guard let g = GPUType.named(name, in: gpus) else { throw StoreError.unknownGPU(id: name, valid: gpus.map(\.id)) }
            // A name that already means another GPU type (its id, or an alias) would change what that name means.
            if let other = GPUType.named(alias, in: gpus), other.id != g.id { throw StoreError.gpuAliasTaken(alias: alias, gpu: other.id) }
            try db.execute(sql: "INSERT INTO gpu_aliases (alias, gpu_id) VALUES (?, ?) ON CONFLICT(alias) DO NOTHING", arguments: [alias, g.id])
            return try Self.fetchGPUTypes(db).first { $0.id == g.id }!
        }
    }

    static func resolveGPUTypeID(_ name: String, _ db: Database) throws -> String? {
        GPUType.named(name, in: try fetchGPUTypes(db))?.id
    }

    // MARK: Server SKUs

    /// All server SKUs, sorted by id.
    public func skus() throws -> [ServerSKU] {
        try read { db in try Self.fetchSKUs(db) }
    }

    static func fetchSKUs(_ db: Database) throws -> [ServerSKU] {
        try ServerSKURow.order(ServerSKURow.Columns.id).fetchAll(db).map { r in
            ServerSKU(
                id: r.id, name: r.name, gpu: r.gpuID, gpusPerServer: r.gpusPerServer, hostMemoryBytes: r.hostMemoryBytes,
                cpuCores: r.cpuCores, listPriceUSD: r.priceUSD, userPriceUSD: r.userPriceUSD,
                discountBasisPoints: r.discountBasisPoints, priceSource: r.priceSource, origin: r.origin, fabric: r.fabric,
                fabricSource: r.fabricSource)
        }
    }

    /// Sets a user's price and/or discount on a SKU; both survive re-seeding. `nil` leaves a value as is;
    /// `clear` removes both.
    public func setSKUPrice(id: String, priceUSD: Int?, discountBasisPoints: Int?, clear: Bool) throws -> ServerSKU {
        try write { db in
            guard let real = try String.fetchOne(db, sql: "SELECT id FROM server_skus WHERE id = ? COLLATE NOCASE", arguments: [id]) else {
                throw StoreError.unknownSKU(id: id, valid: try String.fetchAll(db, sql: "SELECT id FROM server_skus ORDER BY id"))
            }
            if clear {
                try db.execute(sql: "UPDATE server_skus SET user_price_usd = NULL, discount_basis_points = NULL WHERE id = ?", arguments: [real])
            }
            if let p = priceUSD {
                try db.execute(sql: "UPDATE server_skus SET user_price_usd = ? WHERE id = ?", arguments: [p, real])
            }
            if let d = discountBasisPoints {
                try db.execute(sql: "UPDATE server_skus SET discount_basis_points = ? WHERE id = ?", arguments: [d, real])
            }
            return try Self.fetchSKUs(db).first { $0.id == real }!
        }
    }

    /// Adds a user-defined server SKU.
    public func addSKU(_ given: ServerSKU) throws -> ServerSKU {
        var sku = given
        do {
            sku.id = try Names.checked(sku.id, .name("SKU id"))
            sku.name = try Names.checked(sku.name, .name("SKU name"))
        } catch {
            throw StoreError.invalidName(error)
        }
        return try write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM server_skus WHERE id = ? COLLATE NOCASE", arguments: [sku.id]) == true {
                throw StoreError.duplicateSKU(id: sku.id)
            }
            guard let gpu = try Self.resolveGPUTypeID(sku.gpu, db) else {
                throw StoreError.unknownGPU(id: sku.gpu, valid: try Self.fetchGPUTypes(db).map(\.id))
            }
            try db.execute(
                sql: """
                    INSERT INTO server_skus (id, name, gpu_id, gpus_per_server, host_memory_bytes, cpu_cores,
                        price_usd, price_source, fabric, fabric_source, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'user')
                    """,
                arguments: [
                    sku.id, sku.name, gpu, sku.gpusPerServer, sku.hostMemoryBytes, sku.cpuCores, sku.listPriceUSD, "user-defined", sku.fabric,
                    "user-defined",
                ])
            return try Self.fetchSKUs(db).first { $0.id == sku.id }!
        }
    }

    // MARK: Models

    /// All catalog models (seeded and user-added), sorted by id.
    public func models() throws -> [CatalogModel] {
        try read { db in try Self.fetchModels(db) }
    }

    static func fetchModels(_ db: Database) throws -> [CatalogModel] {
        var aliases: [String: [String]] = [:]
        for a in try ModelAliasRow.order(ModelAliasRow.Columns.alias).fetchAll(db) {
            aliases[a.modelID, default: []].append(a.alias)
        }
        return try ModelRow.order(ModelRow.Columns.id).fetchAll(db).map { r in
            let json = (try? JSONValue.parse(Data(r.configJSON.utf8))) ?? .null
            return CatalogModel(id: r.id, aliases: aliases[r.id] ?? [], config: json, source: r.source, origin: r.origin)
        }
    }

    /// Stores a user model from a config (`plan models add`).
    public func addModel(id rawID: String, config: JSONValue, source: String, aliases rawAliases: [String] = []) throws {
        let id: String
        let aliases: [String]
        do {
            id = try Names.checked(rawID, .name("model id"))
            aliases = try rawAliases.map { a throws(Names.Problem) in try Names.checked(a, .name("model alias")) }
        } catch {
            throw StoreError.invalidName(error)
        }
        if config.encodedString().utf8.count > Limits.configBytes {
            throw StoreError.modelConfigTooLarge(model: id, limit: Limits.configBytes)
        }
        try write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM models WHERE id = ? COLLATE NOCASE", arguments: [id]) == true
                || (try Bool.fetchOne(db, sql: "SELECT 1 FROM model_aliases WHERE alias = ?", arguments: [id])) == true
            {
                throw StoreError.duplicateModel(id: id)
            }
            for a in aliases {
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM model_aliases WHERE alias = ?", arguments: [a]) == true
                    || (try Bool.fetchOne(db, sql: "SELECT 1 FROM models WHERE id = ? COLLATE NOCASE", arguments: [a])) == true
                {
                    throw StoreError.aliasTaken(alias: a)
                }
            }
            if Set(aliases.map { $0.lowercased() }).count != aliases.count {
                throw StoreError.aliasRepeated
            }
            try db.execute(
                sql: "INSERT INTO models (id, config_json, source, origin) VALUES (?, ?, ?, 'user')",
                arguments: [id, config.encodedString(), source])
            for a in aliases {
                try db.execute(sql: "INSERT INTO model_aliases (alias, model_id) VALUES (?, ?)", arguments: [a, id])
            }
        }
    }
}

extension CatalogSnapshot {
    /// The catalog as shipped, read from `Seeds/` without a database.
    public static func seeds(_ resources: Resources) throws -> CatalogSnapshot {
        let s = try SeedFiles.load(from: resources)
        return CatalogSnapshot(
            gpus: s.gpus.map(\.gpuType).sorted { $0.id < $1.id },
            skus: s.skus.map {
                ServerSKU(
                    id: $0.id, name: $0.name, gpu: $0.gpu, gpusPerServer: $0.gpus_per_server,
                    hostMemoryBytes: $0.host_memory_bytes, cpuCores: $0.cpu_cores, listPriceUSD: $0.price_usd,
                    priceSource: $0.price_source, fabric: $0.fabric, fabricSource: $0.fabric_source)
            }.sorted { $0.id < $1.id },
            models: s.models.map { CatalogModel(id: $0.id, aliases: $0.aliases, config: $0.config, source: $0.source) }
                .sorted { $0.id < $1.id })
    }
}

extension PlanStore {
    /// All three catalogs in one consistent read.
    public func catalog() throws -> CatalogSnapshot {
        try read { db in CatalogSnapshot(gpus: try Self.fetchGPUTypes(db), skus: try Self.fetchSKUs(db), models: try Self.fetchModels(db)) }
    }
}
