import PlanModel

/// Why a model name, config.json or checkpoint folder could not be read. `description` is one
/// sentence that names the file or value in quotes and says what is expected.
public enum ModelSourceError: Error, Equatable, CustomStringConvertible {
    // MARK: The name and its config.json

    /// Neither a path nor a catalog id or alias; `known` are the catalog's ids.
    case unknownModel(name: String, known: [String])
    case symlinkLoop(path: String)
    case danglingSymlink(path: String)
    case noSuchPath(path: String)
    case noConfigInFolder(folder: String)
    /// `kind` reads like "a FIFO" or "a folder" (`FileKind.describe`).
    case configNotRegularFile(file: String, kind: String)
    /// Larger than `Limits.configBytes`.
    case configTooLarge(file: String, bytes: Int)
    case configUnreadable(file: String)
    case configNotUTF8(file: String)
    case configNotJSON(file: String, detail: String)

    // MARK: The safetensors checkpoint beside it

    case indexUnreadable(index: String)
    case indexNotJSON(index: String, detail: String)
    case indexWithoutWeightMap(index: String)
    case indexEntryNotAFileName(index: String, tensor: String)
    case indexFileNotInFolder(index: String, file: String)
    /// The index puts `tensor` in `file`, whose header does not hold it.
    case tensorMissing(index: String, tensor: String, file: String)
    /// Every file's header is empty.
    case noTensors(folder: String, files: [String])
    /// `reason` is the system's text (strerror).
    case shardUnreadable(file: String, reason: String)
    case shardNotRegularFile(file: String)
    /// The header is malformed or does not match the file's size.
    case shardHeader(file: String, problem: String)

    public var description: String {
        switch self {
        case .unknownModel(let name, let known):
            "unknown model '\(name)'; give a catalog id (\(known.joined(separator: ", "))), an alias such as "
                + "meta-llama/Meta-Llama-3-8B-Instruct, or a path to a config.json"
        case .symlinkLoop(let path): "'\(path)' is a loop of symbolic links; give a config.json or a folder that contains one"
        case .danglingSymlink(let path): "'\(path)' is a symbolic link to a file that does not exist"
        case .noSuchPath(let path): "no such file or folder '\(path)'; give a config.json or a folder that contains one"
        case .noConfigInFolder(let folder): "the folder '\(folder)' has no config.json"
        case .configNotRegularFile(let file, let kind):
            "'\(file)' is \(kind), not a regular file; expected a Hugging Face config.json"
        case .configTooLarge(let file, let bytes):
            "'\(file)' is \(bytes) bytes; a config.json is a few kilobytes and plan reads up to \(Limits.configBytes) bytes"
        case .configUnreadable(let file): "cannot read '\(file)': permission denied"
        case .configNotUTF8(let file): "'\(file)' is not UTF-8 text; expected a Hugging Face config.json"
        case .configNotJSON(let file, let detail): "'\(file)' is not valid JSON (\(detail)); expected a Hugging Face config.json"

        case .indexUnreadable(let index): "cannot read '\(index)'"
        case .indexNotJSON(let index, let detail):
            "'\(index)' is not valid JSON (\(detail)); expected a safetensors index with a weight_map"
        case .indexWithoutWeightMap(let index): "'\(index)' has no weight_map object; expected a safetensors index"
        case .indexEntryNotAFileName(let index, let tensor):
            "'\(index)': the weight_map entry for '\(Names.escaped(tensor))' is not a file name"
        case .indexFileNotInFolder(let index, let file):
            "'\(index)': '\(Names.escaped(file))' is not a .safetensors file in the folder"
        case .tensorMissing(let index, let tensor, let file):
            "'\(index)' puts tensor '\(Names.escaped(tensor))' in \(file), but that file's header does not hold it; "
                + "the checkpoint is incomplete"
        case .noTensors(let folder, let files):
            "the checkpoint in '\(folder)' holds no tensors (\(files.prefix(3).joined(separator: ", "))\(files.count > 3 ? ", ..." : "") "
                + "have empty headers); it cannot be served"
        case .shardUnreadable(let file, let reason): "cannot read '\(file)': \(reason)"
        case .shardNotRegularFile(let file): "'\(file)' is not a regular file; expected a .safetensors file"
        case .shardHeader(let file, let problem): "'\(file)': \(problem)"
        }
    }
}
