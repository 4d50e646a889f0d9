import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PlanModel

/// A checkpoint folder's `*.safetensors` files, read header by header: never tensor data.
///
/// With `model.safetensors.index.json` the shards are the files its `weight_map` names; without
/// it, every `*.safetensors` file in the folder. Each file's 8-byte length and JSON header are
/// read (a 700 GB, 160-shard checkpoint is a few megabytes of headers); the file size must equal
/// 8 + header + the data the header describes, so a truncated download is caught.
public struct Checkpoint: Sendable, Equatable {
    public var files: [String]
    public var tensors: Int
    /// Exact bytes of tensor data: what loading the checkpoint puts in memory.
    public var bytes: Int
    /// Elements over all tensors (equals the parameter count for an unquantized checkpoint).
    public var elements: Int
    /// Bytes per safetensors dtype ("BF16": ...).
    public var bytesByDType: [String: Int]

    /// The checkpoint in `dir`, or nil when it holds no safetensors files.
    public static func read(directory dir: String) throws -> Checkpoint? {
        let fm = FileManager.default
        let indexPath = (dir as NSString).appendingPathComponent("model.safetensors.index.json")
        var files: [String]
        // With an index: the tensors it expects in each shard.
        var expected: [String: [String]]? = nil
        if fm.fileExists(atPath: indexPath) {
            guard let data = fm.contents(atPath: indexPath) else { throw ModelSourceError.indexUnreadable(index: indexPath) }
            let doc: JSONValue
            do {
                doc = try JSONValue.parse(data)
            } catch {
                throw ModelSourceError.indexNotJSON(index: indexPath, detail: error.message)
            }
            guard case .object(let map)? = doc["weight_map"] else {
                throw ModelSourceError.indexWithoutWeightMap(index: indexPath)
            }
            var byFile: [String: [String]] = [:]
            var checked: Set<String> = []
            for tensor in map.keys.sorted() {
                let v = map[tensor]!
                guard case .string(let f) = v else {
                    throw ModelSourceError.indexEntryNotAFileName(index: indexPath, tensor: tensor)
                }
                if !checked.contains(f) {
                    guard !f.utf8.contains(UInt8(ascii: "/")), f.hasSuffix(".safetensors") else {
                        throw ModelSourceError.indexFileNotInFolder(index: indexPath, file: f)
                    }
                    checked.insert(f)
                }
                byFile[f, default: []].append(tensor)
            }
            expected = byFile
            files = byFile.keys.sorted()
        } else {
            files = ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".safetensors") }.sorted()
        }
        guard !files.isEmpty else { return nil }
        var result = Checkpoint(files: files, tensors: 0, bytes: 0, elements: 0, bytesByDType: [:])
        for f in files {
            let path = (dir as NSString).appendingPathComponent(f)
            let header = try readHeader(path)
            for t in header.tensors {
                result.tensors += 1
                result.bytes += t.bytes
                result.elements += t.elements
                result.bytesByDType[t.dtype, default: 0] += t.bytes
            }
            if let want = expected?[f] {
                let held = Set(header.tensors.map(\.name))
                if let missing = want.filter({ !held.contains($0) }).min() {
                    throw ModelSourceError.tensorMissing(index: indexPath, tensor: missing, file: f)
                }
            }
        }
        guard result.tensors > 0 else {
            throw ModelSourceError.noTensors(folder: dir, files: files)
        }
        return result
    }

    /// Reads and checks one file's header.
    static func readHeader(_ path: String) throws -> SafetensorsHeader {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelSourceError.shardUnreadable(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw ModelSourceError.shardNotRegularFile(file: path)
        }
        func readExactly(_ n: Int) throws -> [UInt8] {
            var buf = [UInt8](repeating: 0, count: n)
            var got = 0
            while got < n {
                let r = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + got, n - got) }
                if r < 0 && errno == EINTR { continue }
                guard r > 0 else { break }
                got += r
            }
            return Array(buf[0..<got])
        }
        do {
            let length = try SafetensorsHeader.headerLength(try readExactly(8))
            guard 8 + length <= Int(st.st_size) else {
                throw SafetensorsHeader.Problem(message: "the file ends inside its \(length)-byte header (truncated)")
            }
            let json = try readExactly(length)
            guard json.count == length else {
                throw SafetensorsHeader.Problem(message: "the file ends inside its \(length)-byte header (truncated)")
            }
            let header = try SafetensorsHeader(json: json)
            let size = Int(st.st_size)
            if size != 8 + length + header.dataBytes {
                throw SafetensorsHeader.Problem(
                    message: "the header describes \(header.dataBytes) bytes of tensor data but the file holds \(max(0, size - 8 - length))"
                        + (size < 8 + length + header.dataBytes ? " (truncated)" : ""))
            }
            return header
        } catch let p as SafetensorsHeader.Problem {
            throw ModelSourceError.shardHeader(file: path, problem: p.message)
        }
    }
}
