import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PlanModel

/// Writes a report to the file named by `--output` without ever destroying something else.
///
/// - A regular file (or a new one) is replaced atomically: written next to it, then renamed over
///   it, so a reader never sees half a report; its mode and owner are kept. A symbolic link is
///   followed (also one to a file not yet there) and its target written, the link kept.
/// - A character device or a FIFO (`/dev/stdout`, a pipe to another program) is written through:
///   it is never replaced by a regular file, and a failed write (`/dev/full`: no space left) is
///   an error.
/// - The database itself, its `-wal`, `-shm` and `-journal` files, folders and sockets are refused.
enum ReportFile {
    static func write(_ text: String, to path: String, databasePath: String?) throws {
        let target = resolved(path)
        if let db = databasePath {
            let dbTarget = resolved(db)
            for suffix in ["", "-wal", "-shm", "-journal"] where target == dbTarget + suffix || sameFile(target, dbTarget + suffix) {
                throw PlanError.usage(
                    "--output '\(path)' is the database\(suffix.isEmpty ? "" : "'s \(suffix) file") ('\(db)'); writing there would destroy it; give another file")
            }
        }
        let bytes = Array(TerminalText.sanitized(text).utf8)
        var st = stat()
        if stat(target, &st) == 0 {
            switch st.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFCHR, S_IFIFO:
                try writeThrough(bytes, to: target, shown: path)
                return
            default:
                throw PlanError.usage("--output '\(path)' is \(FileKind.describe(st.st_mode)); give a file path")
            }
        }
        try replaceAtomically(bytes, at: target, shown: path)
    }

    /// The path with symbolic links and `..` resolved; for a file that does not exist yet, its
    /// folder resolved and the name kept.
    static func resolved(_ path: String) -> String {
        var absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        // A symbolic link to a file that does not exist yet: write to where it points, keeping the link.
        var links = 0
        var st = stat()
        while links < 40, lstat(absolute, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK, stat(absolute, &st) != 0 {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: absolute) else { break }
            absolute = target.hasPrefix("/") ? target : (absolute as NSString).deletingLastPathComponent + "/" + target
            links += 1
        }
        if let r = realpath(absolute, nil) {
            defer { free(r) }
            return String(cString: r)
        }
        let url = URL(fileURLWithPath: absolute)
        let dir = url.deletingLastPathComponent().path
        if let r = realpath(dir, nil) {
            defer { free(r) }
            return String(cString: r) + "/" + url.lastPathComponent
        }
        return url.standardizedFileURL.path
    }

    static func sameFile(_ a: String, _ b: String) -> Bool {
        var x = stat()
        var y = stat()
        guard stat(a, &x) == 0, stat(b, &y) == 0 else { return false }
        return x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }

    static func failure(_ path: String, _ code: Int32) -> PlanError {
        PlanError("cannot write '\(path)': \(String(cString: strerror(code))); give a writable path for --output")
    }

    static func writeAll(_ bytes: [UInt8], fd: Int32, shown: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(shown, errno)
            }
            offset += n
        }
    }

    static func writeThrough(_ bytes: [UInt8], to target: String, shown: String) throws {
        let fd = open(target, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(shown, errno) }
        defer { close(fd) }
        try writeAll(bytes, fd: fd, shown: shown)
    }

    static func replaceAtomically(_ bytes: [UInt8], at target: String, shown: String) throws {
        let dir = (target as NSString).deletingLastPathComponent
        var template = Array((dir + "/.plan-output-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw failure(shown, errno) }
        let temp = String(cString: template)
        var ok = false
        defer { if !ok { unlink(temp) } }
        do {
            defer { close(fd) }
            try writeAll(bytes, fd: fd, shown: shown)
            guard fsync(fd) == 0 else { throw failure(shown, errno) }
            // Replacing a file keeps its mode and owner; a new report is an ordinary file (0666
            // less the umask; mkstemp made it 0600).
            var old = stat()
            if stat(target, &old) == 0 {
                fchmod(fd, old.st_mode & 0o7777)
                _ = fchown(fd, old.st_uid, old.st_gid)
            } else {
                let mask = umask(0)
                umask(mask)
                fchmod(fd, 0o666 & ~mask)
            }
        }
        guard rename(temp, target) == 0 else { throw failure(shown, errno) }
        ok = true
    }
}
