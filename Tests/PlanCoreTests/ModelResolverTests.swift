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
        let missing = dir.path("missing")
        #expect(Self.error { _ = try ModelResolver.readConfig(path: missing) } == .noSuchPath(path: missing))
        #expect(
            ModelSourceError.noSuchPath(path: missing).description
                == "no such file or folder '\(missing)'; give a config.json or a folder that contains one")

        let dangling = dir.path("dangling")
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: missing)
        #expect(Self.error { _ = try ModelResolver.resolve(dangling, catalog: Self.catalog) } == .danglingSymlink(path: dangling))
        #expect(
            ModelSourceError.danglingSymlink(path: dangling).description
                == "'\(dangling)' is a symbolic link to a file that does not exist")

        let loop = dir.path("loop")
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
        #expect(Self.error { _ = try ModelResolver.resolve(loop, catalog: Self.catalog) } == .symlinkLoop(path: loop))
        #expect(
            ModelSourceError.symlinkLoop(path: loop).description
                == "'\(loop)' is a loop of symbolic links; give a config.json or a folder that contains one")

        let empty = dir.path("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
        #expect(Self.error { _ = try ModelResolver.readConfig(path: empty) } == .noConfigInFolder(folder: empty))
        #expect(ModelSourceError.noConfigInFolder(folder: empty).description == "the folder '\(empty)' has no config.json")

        let nested = dir.path("nested")
        try FileManager.default.createDirectory(atPath: nested + "/config.json", withIntermediateDirectories: true)
        let inner = nested + "/config.json"
        #expect(Self.error { _ = try ModelResolver.readConfig(path: nested) } == .configNotRegularFile(file: inner, kind: "a folder"))
        #expect(
            ModelSourceError.configNotRegularFile(file: inner, kind: "a folder").description
                == "'\(inner)' is a folder, not a regular file; expected a Hugging Face config.json")

        let big = dir.write("big.json", String(repeating: " ", count: Limits.configBytes + 1))
        #expect(Self.error { _ = try ModelResolver.readConfig(path: big) } == .configTooLarge(file: big, bytes: Limits.configBytes + 1))
        #expect(
            ModelSourceError.configTooLarge(file: big, bytes: 5_000_000).description
                == "'\(big)' is 5000000 bytes; a config.json is a few kilobytes and plan reads up to \(Limits.configBytes) bytes")

        let latin1 = dir.write("latin1.json", bytes: [0x7b, 0xff, 0x7d])
        #expect(Self.error { _ = try ModelResolver.readConfig(path: latin1) } == .configNotUTF8(file: latin1))
        #expect(
            ModelSourceError.configNotUTF8(file: latin1).description
                == "'\(latin1)' is not UTF-8 text; expected a Hugging Face config.json")

        let broken = dir.write("broken.json", "{")
        guard case .configNotJSON(let file, let detail)? = Self.error({ _ = try ModelResolver.readConfig(path: broken) }) else {
            Issue.record("expected configNotJSON")
            return
        }
        #expect(file == broken && !detail.isEmpty)
        #expect(
            ModelSourceError.configNotJSON(file: broken, detail: "d").description
                == "'\(broken)' is not valid JSON (d); expected a Hugging Face config.json")
        #expect(
            ModelSourceError.configUnreadable(file: broken).description == "cannot read '\(broken)': permission denied")
    }

    @Test func aBadCheckpointIsACaseNamingTheFile() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let index = dir.path("model.safetensors.index.json")
        func read() -> ModelSourceError? { Self.error { _ = try Checkpoint.read(directory: dir.url.path) } }

        _ = dir.write("model.safetensors.index.json", "{")
        guard case .indexNotJSON(let i, _)? = read() else {
            Issue.record("expected indexNotJSON")
            return
        }
        #expect(i == index)
        #expect(
            ModelSourceError.indexNotJSON(index: index, detail: "d").description
                == "'\(index)' is not valid JSON (d); expected a safetensors index with a weight_map")

        _ = dir.write("model.safetensors.index.json", "{}")
        #expect(read() == .indexWithoutWeightMap(index: index))
        #expect(
            ModelSourceError.indexWithoutWeightMap(index: index).description
                == "'\(index)' has no weight_map object; expected a safetensors index")

        _ = dir.write("model.safetensors.index.json", #"{"weight_map": {"w": 1}}"#)
        #expect(read() == .indexEntryNotAFileName(index: index, tensor: "w"))
        #expect(
            ModelSourceError.indexEntryNotAFileName(index: index, tensor: "w").description
                == "'\(index)': the weight_map entry for 'w' is not a file name")

        _ = dir.write("model.safetensors.index.json", #"{"weight_map": {"w": "../x.safetensors"}}"#)
        #expect(read() == .indexFileNotInFolder(index: index, file: "../x.safetensors"))
        #expect(
            ModelSourceError.indexFileNotInFolder(index: index, file: "../x.safetensors").description
                == "'\(index)': '../x.safetensors' is not a .safetensors file in the folder")

        _ = dir.write("model.safetensors.index.json", #"{"weight_map": {"w": "a.safetensors"}}"#)
        let a = dir.path("a.safetensors")
        #expect(read() == .shardUnreadable(file: a, reason: "No such file or directory"))
        #expect(
            ModelSourceError.shardUnreadable(file: a, reason: "No such file or directory").description
                == "cannot read '\(a)': No such file or directory")

        _ = dir.write("a.safetensors", bytes: Self.safetensors(header: "{}"))
        #expect(read() == .tensorMissing(index: index, tensor: "w", file: "a.safetensors"))
        #expect(
            ModelSourceError.tensorMissing(index: index, tensor: "w", file: "a.safetensors").description
                == "'\(index)' puts tensor 'w' in a.safetensors, but that file's header does not hold it; the checkpoint is incomplete")

        try FileManager.default.removeItem(atPath: index)
        #expect(read() == .noTensors(folder: dir.url.path, files: ["a.safetensors"]))
        #expect(
            ModelSourceError.noTensors(folder: "f", files: ["1", "2", "3", "4"]).description
                == "the checkpoint in 'f' holds no tensors (1, 2, 3, ... have empty headers); it cannot be served")

        _ = dir.write("a.safetensors", bytes: Self.safetensors(header: "{}", declaredLength: 100))
        #expect(read() == .shardHeader(file: a, problem: "the file ends inside its 100-byte header (truncated)"))
        #expect(
            ModelSourceError.shardHeader(file: a, problem: "p").description == "'\(a)': p")

        try FileManager.default.removeItem(atPath: a)
        try FileManager.default.createDirectory(atPath: a, withIntermediateDirectories: false)
        #expect(read() == .shardNotRegularFile(file: a))
        #expect(
            ModelSourceError.shardNotRegularFile(file: a).description
                == "'\(a)' is not a regular file; expected a .safetensors file")
    }
}
