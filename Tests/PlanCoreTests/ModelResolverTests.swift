import Foundation
import PlanCore
import PlanModel
import Testing
import TestSupport

/// `ModelResolver` and `Checkpoint` refuse a bad model name, config.json or checkpoint folder with a
/// `ModelSourceError` case; each case's sentence is the one `plan` has always printed.
@Suite struct ModelResolverTests {
    static let tiny: JSONValue = .object([
        "model_type": .string("llama"), "hidden_size": .int(64), "num_hidden_layers": .int(2),
        "num_attention_heads": .int(4), "vocab_size": .int(100), "intermediate_size": .int(128),
        "max_position_embeddings": .int(256),
    ])
    static let catalog = CatalogSnapshot(
        gpus: [], skus: [], models: [CatalogModel(id: "tiny", aliases: ["org/Tiny"], config: tiny, source: "test")])

    /// A safetensors file: the 8-byte little-endian header length, then the header.
    static func safetensors(header: String, declaredLength: Int? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        let n = UInt64(declaredLength ?? json.count)
        return (0..<8).map { UInt8((n >> (8 * UInt64($0))) & 0xff) } + json
    }

    static func error(_ body: () throws -> Void) -> ModelSourceError? {
        do {
            try body()
            return nil
        } catch {
            return error as? ModelSourceError
        }
    }

    /// `body` throws exactly `expected`, and `expected` reads `message`.
    static func refuses(
        _ expected: ModelSourceError, _ message: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) {
        #expect(error(body) == expected, sourceLocation: sourceLocation)
        #expect(expected.description == message, sourceLocation: sourceLocation)
    }

    @Test func aCatalogIdOrAliasResolves() throws {
        let m = try ModelResolver.resolve("org/Tiny", catalog: Self.catalog)
        #expect(m.id == "tiny" && m.catalogID == "tiny" && m.checkpoint == nil)
        #expect(m.architecture.layers == 2)
    }

    @Test func anUnknownNameListsTheCatalog() {
        let e = Self.error { _ = try ModelResolver.resolve("nope", catalog: Self.catalog) }
        #expect(e == .unknownModel(name: "nope", known: ["tiny"]))
        #expect(
            e?.description
                == "unknown model 'nope'; give a catalog id (tiny), an alias such as meta-llama/Meta-Llama-3-8B-Instruct, "
                + "or a path to a config.json")
    }

    @Test func aConfigFileOrFolderResolvesWithItsCheckpoint() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        _ = dir.write("config.json", Self.tiny.encodedString())
        _ = dir.write(
            "model.safetensors", bytes: Self.safetensors(header: #"{"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}"#)
                + [UInt8](repeating: 0, count: 8))
        let m = try ModelResolver.resolve(dir.url.path, catalog: Self.catalog)
        #expect(m.catalogID == nil && m.architecture.layers == 2)
        let c = try #require(m.checkpoint)
        #expect(c.files == ["model.safetensors"] && c.tensors == 1 && c.bytes == 8 && c.elements == 4 && c.bytesByDType == ["BF16": 8])
        let file = try ModelResolver.resolve(dir.path("config.json"), catalog: Self.catalog)
        #expect(file.id == dir.path("config.json") && file.checkpoint == nil)
    }

    @Test func aBadPathOrConfigIsACaseNamingIt() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let fm = FileManager.default
        func readConfig(_ path: String) -> () throws -> Void { { _ = try ModelResolver.readConfig(path: path) } }
        func resolve(_ name: String) -> () throws -> Void { { _ = try ModelResolver.resolve(name, catalog: Self.catalog) } }

        let missing = dir.path("missing")
        Self.refuses(
            .noSuchPath(path: missing), "no such file or folder '\(missing)'; give a config.json or a folder that contains one",
            readConfig(missing))

        let dangling = dir.path("dangling")
        try fm.createSymbolicLink(atPath: dangling, withDestinationPath: missing)
        Self.refuses(.danglingSymlink(path: dangling), "'\(dangling)' is a symbolic link to a file that does not exist", resolve(dangling))

        let loop = dir.path("loop")
        try fm.createSymbolicLink(atPath: loop, withDestinationPath: loop)
        Self.refuses(
            .symlinkLoop(path: loop), "'\(loop)' is a loop of symbolic links; give a config.json or a folder that contains one",
            resolve(loop))

        let empty = dir.path("empty")
        try fm.createDirectory(atPath: empty, withIntermediateDirectories: false)
        Self.refuses(.noConfigInFolder(folder: empty), "the folder '\(empty)' has no config.json", readConfig(empty))

        let nested = dir.path("nested")
        let inner = nested + "/config.json"
        try fm.createDirectory(atPath: inner, withIntermediateDirectories: true)
        Self.refuses(
            .configNotRegularFile(file: inner, kind: "a folder"),
            "'\(inner)' is a folder, not a regular file; expected a Hugging Face config.json", readConfig(nested))

        let big = dir.write("big.json", String(repeating: " ", count: Limits.configBytes + 1))
        Self.refuses(
            .configTooLarge(file: big, bytes: Limits.configBytes + 1),
            "'\(big)' is \(Limits.configBytes + 1) bytes; a config.json is a few kilobytes and plan reads up to \(Limits.configBytes) bytes",
            readConfig(big))

        let latin1 = dir.write("latin1.json", bytes: [0x7b, 0xff, 0x7d])
        Self.refuses(.configNotUTF8(file: latin1), "'\(latin1)' is not UTF-8 text; expected a Hugging Face config.json", readConfig(latin1))

        let broken = dir.write("broken.json", "{")
        Self.refuses(
            .configNotJSON(file: broken, detail: "line 1: expected a quoted key"),
            "'\(broken)' is not valid JSON (line 1: expected a quoted key); expected a Hugging Face config.json", readConfig(broken))
        // Not reachable as root, who reads any file.
        #expect(ModelSourceError.configUnreadable(file: broken).description == "cannot read '\(broken)': permission denied")
    }

    @Test func aBadCheckpointIsACaseNamingTheFile() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let index = dir.path("model.safetensors.index.json")
        let read: () throws -> Void = { _ = try Checkpoint.read(directory: dir.url.path) }

        _ = dir.write("model.safetensors.index.json", "{")
        Self.refuses(
            .indexNotJSON(index: index, detail: "line 1: expected a quoted key"),
            "'\(index)' is not valid JSON (line 1: expected a quoted key); expected a safetensors index with a weight_map", read)

        _ = dir.write("model.safetensors.index.json", "{}")
        Self.refuses(.indexWithoutWeightMap(index: index), "'\(index)' has no weight_map object; expected a safetensors index", read)

        _ = dir.write("model.safetensors.index.json", #"{"weight_map": {"w": 1}}"#)
        Self.refuses(
            .indexEntryNotAFileName(index: index, tensor: "w"), "'\(index)': the weight_map entry for 'w' is not a file name", read)

        _ = dir.write("model.safetensors.index.json", #"{"weight_map": {"w": "../x.safetensors"}}"#)
        Self.refuses(
            .indexFileNotInFolder(index: index, file: "../x.safetensors"),
            "'\(index)': '../x.safetensors' is not a .safetensors file in the folder", read)

        _ = dir.write("model.safetensors.index.json", #"{"weight_map": {"w": "a.safetensors"}}"#)
        let a = dir.path("a.safetensors")
        Self.refuses(
            .shardUnreadable(file: a, reason: "No such file or directory"), "cannot read '\(a)': No such file or directory", read)

        _ = dir.write("a.safetensors", bytes: Self.safetensors(header: "{}"))
        Self.refuses(
            .tensorMissing(index: index, tensor: "w", file: "a.safetensors"),
            "'\(index)' puts tensor 'w' in a.safetensors, but that file's header does not hold it; the checkpoint is incomplete", read)

        try FileManager.default.removeItem(atPath: index)
        Self.refuses(
            .noTensors(folder: dir.url.path, files: ["a.safetensors"]),
            "the checkpoint in '\(dir.url.path)' holds no tensors (a.safetensors have empty headers); it cannot be served", read)
        #expect(
            ModelSourceError.noTensors(folder: "f", files: ["1", "2", "3", "4"]).description
                == "the checkpoint in 'f' holds no tensors (1, 2, 3, ... have empty headers); it cannot be served")

        _ = dir.write("a.safetensors", bytes: Self.safetensors(header: "{}", declaredLength: 100))
        Self.refuses(
            .shardHeader(file: a, problem: "the file ends inside its 100-byte header (truncated)"),
            "'\(a)': the file ends inside its 100-byte header (truncated)", read)

        try FileManager.default.removeItem(atPath: a)
        try FileManager.default.createDirectory(atPath: a, withIntermediateDirectories: false)
        Self.refuses(.shardNotRegularFile(file: a), "'\(a)' is not a regular file; expected a .safetensors file", read)
    }
}
