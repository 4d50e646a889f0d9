import PlanModel

/// A problem the user can act on. `description` is one full sentence that names the bad value;
/// it does not name command-line flags (the CLI adds those when it renders the error).
public enum StoreError: Error, Equatable, CustomStringConvertible {
    // MARK: Resources (migrations and seeds)

    /// `PLAN_RESOURCES` points at a folder without `Migrations/0001_init.sql`.
    case resourcesWithoutMigrations(root: String)
    case seedMissing(name: String, origin: String)
    case seedsMalformed(origin: String, detail: String)
    case migrationUnreadable(name: String, origin: String)
    case migrationNumbering(origin: String, found: String)

    // MARK: Schema version and integrity of an existing file

    case schemaNewer(path: String, version: Int, known: Int)
    case schemaNeedsUpgradeReadOnly(path: String, version: Int, target: Int)
    case migrationDangling(path: String, migration: String)
    case migrationDoesNotApply(path: String, version: Int, migration: String, detail: String)
    case schemaVersionInvalid(path: String, version: Int)
    case migrationRecordDisagrees(path: String, version: Int, recorded: Int)
    case migrationRecordMissing(path: String, version: Int)
    /// `kind` is SQLite's object type: table, index, trigger or view.
    case schemaObjectMissing(path: String, kind: String, name: String, version: Int)
    case schemaObjectChanged(path: String, kind: String, name: String, version: Int)
    case schemaObjectForeign(path: String, kind: String, name: String)
    /// Rows whose foreign key points nowhere; the first one's table, rowid and parent table.
    case danglingRows(path: String, count: Int, table: String, rowid: Int?, parent: String)
    /// A label column (a job's kind, mode or strategy, a placement's strategy) holds a value plan never writes.
    case unknownStoredValue(path: String, table: String, column: String, value: String)

    // MARK: The database location

    case folderMissing(path: String, folder: String)
    case folderNotWritable(path: String, folder: String)
    case isFolder(path: String)
    /// `kind` reads like "a FIFO" or "a socket".
    case notRegularFile(path: String, kind: String)
    case notReadable(path: String)
    case notADatabase(path: String)
    /// A command that writes on a file (or, when `fileWritable`, its folder) that cannot be written.
    case notWritable(path: String, folder: String, fileWritable: Bool)

    // MARK: SQLite errors

    case openedReadOnly(path: String)
    case openDenied(path: String)
    case openCorrupt(path: String)
    /// Any other error opening the file, with SQLite's own text.
    case openFailed(path: String, detail: String)
    /// A constraint failure the store's own checks did not catch, with SQLite's text.
    case integrity(detail: String)
    case locked(path: String, seconds: Int)
    case readOnly(path: String)
    case corrupt(path: String)
    case diskFull(path: String)
    /// Any other SQLite error, with SQLite's own text.
    case sqlite(path: String, detail: String)

    // MARK: Planning

    case jobDisappeared(job: String)
    case placementConflict(job: String)

    // MARK: Fleet and catalog

    /// `known` is the number of jobs when the message gives it.
    case unknownJob(name: String, known: Int?)
    case unknownServer(name: String, known: Int)
    /// A pinned (running) job cannot be unplaced.
    case pinnedJob(name: String)
    /// Only a job with every replica placed can be pinned.
    case pinUnplaced(name: String, placed: Int, replicas: Int)
    case serverRunsJobs(server: String, jobs: [String])
    /// A sync would change the GPUs of a server that runs jobs.
    case serverChangeRunsJobs(server: String, change: String, jobs: [String])
    case unknownSKU(id: String, valid: [String])
    case duplicateSKU(id: String)
    case unknownGPU(id: String, valid: [String])
    case invalidName(Names.Problem)
    case modelConfigTooLarge(model: String, limit: Int)
    case duplicateModel(id: String)
    case aliasTaken(alias: String)
    case gpuAliasTaken(alias: String, gpu: String)
    case aliasRepeated

    private static let changedOutside = "the file was changed outside plan: restore it from a backup"

    public var description: String {
        switch self {
        case .resourcesWithoutMigrations(let root):
            "PLAN_RESOURCES='\(root)' has no Migrations/0001_init.sql; point it at a plan checkout or unset it"
        case .seedMissing(let name, let origin): "the catalog seed 'Seeds/\(name)' is missing from \(origin)"
        case .seedsMalformed(let origin, let detail): "the catalog seeds in \(origin) are malformed: \(detail)"
        case .migrationUnreadable(let name, let origin): "cannot read migration '\(name)' from \(origin)"
        case .migrationNumbering(let origin, let found):
            "migrations in \(origin) must be numbered 0001, 0002, ... without gaps; found '\(found)'"

        case .schemaNewer(let path, let version, let known):
            "database '\(path)' has schema version \(version), newer than this plan understands (up to \(known)); "
                + "use a newer plan or another database"
        case .schemaNeedsUpgradeReadOnly(let path, let version, let target):
            "database '\(path)' has schema version \(version) and needs upgrading to \(target), but it is read-only; "
                + "run `plan init` once with write access to it"
        case .migrationDangling(let path, let migration):
            "migrating '\(path)' with \(migration) would leave dangling references; it was not applied"
        case .migrationDoesNotApply(let path, let version, let migration, let detail):
            "database '\(path)' says schema version \(version) (PRAGMA user_version), but migration \(migration) does not apply "
                + "to its tables (\(detail)); \(Self.changedOutside)"
        case .schemaVersionInvalid(let path, let version):
            "database '\(path)' has an invalid schema version \(version) (PRAGMA user_version); \(Self.changedOutside)"
        case .migrationRecordDisagrees(let path, let version, let recorded):
            "database '\(path)' says schema version \(version) (PRAGMA user_version) but its migration record says \(recorded); "
                + Self.changedOutside
        case .migrationRecordMissing(let path, let version):
            "database '\(path)' says schema version \(version) (PRAGMA user_version) but has no migration record; "
                + Self.changedOutside
        case .schemaObjectMissing(let path, let kind, let name, let version):
            "database '\(path)' lacks the \(kind) '\(name)' that schema version \(version) has; \(Self.changedOutside)"
        case .schemaObjectChanged(let path, let kind, let name, let version):
            "database '\(path)' has the \(kind) '\(name)' in a form schema version \(version) does not have; \(Self.changedOutside)"
        case .schemaObjectForeign(let path, let kind, let name):
            "database '\(path)' has a \(kind) '\(name)' that plan did not create; "
                + "the file was changed outside plan: remove it or restore the file from a backup"
        case .danglingRows(let path, let count, let table, let rowid, let parent):
            "database '\(path)' has \(count) row(s) that refer to missing rows (first: \(table) row \(rowid.map(String.init) ?? "?") -> \(parent)); "
                + Self.changedOutside
        case .unknownStoredValue(let path, let table, let column, let value):
            "database '\(path)' has \(table).\(column) '\(Names.escaped(value))', which this plan does not know; \(Self.changedOutside)"

        case .folderMissing(let path, let folder):
            "cannot open database '\(path)': the folder '\(folder)' does not exist; create it or pick another path"
        case .folderNotWritable(let path, let folder): "cannot create database '\(path)': the folder '\(folder)' is not writable"
        case .isFolder(let path): "cannot open database '\(path)': it is a folder; give a file path such as '\(path)/plan.sqlite'"
        case .notRegularFile(let path, let kind):
            "cannot open database '\(path)': it is \(kind), not a regular file; give the path of a database file such as ./plan.sqlite"
        case .notReadable(let path): "cannot open database '\(path)': permission denied (not readable)"
        case .notADatabase(let path): "cannot open database '\(path)': the file is not a plan (SQLite) database"
        case .notWritable(let path, let folder, let fileWritable):
            "cannot open database '\(path)' for writing: \(fileWritable ? "its folder '\(folder)'" : "the file") is read-only; "
                + "this command changes the database (read-only commands such as `plan servers` still work)"

        case .openedReadOnly(let path):
            "cannot write to database '\(path)': it was opened read-only (the file or its folder is not writable)"
        case .openDenied(let path): "cannot open database '\(path)': permission denied or the location is not writable"
        case .openCorrupt(let path): "cannot open database '\(path)': the file is damaged (SQLite reports corruption)"
        case .openFailed(let path, let detail): "cannot open database '\(path)': \(detail)"
        case .integrity(let detail): "the change was refused by the database's integrity rules (\(detail)); nothing was written"
        case .locked(let path, let seconds):
            "the database '\(path)' stayed locked by another connection for \(seconds) s (another plan, or any program holding the file open); nothing was written, try again"
        case .readOnly(let path): "cannot write to database '\(path)': the file or its folder is read-only"
        case .corrupt(let path): "database '\(path)' is damaged (SQLite reports corruption)"
        case .diskFull(let path): "cannot write to database '\(path)': the disk is full; nothing was written"
        case .sqlite(let path, let detail): "database '\(path)': \(detail)"

        case .jobDisappeared(let job): "job '\(job)' disappeared while planning; run plan place again"
        case .placementConflict(let job):
            "placing '\(job)' would give a GPU to two jobs or place a replica twice; nothing was written"

        case .unknownJob(let name, let known?):
            "unknown job '\(Names.escaped(name))'; `plan jobs` lists the \(known) known jobs"
        case .unknownJob(let name, nil): "unknown job '\(Names.escaped(name))'; `plan jobs` lists the known jobs"
        case .pinnedJob(let name):
            "job '\(Names.escaped(name))' is pinned (running work); unpin it first with `plan job unpin \(Names.escaped(name))`"
        case .pinUnplaced(let name, let placed, let replicas):
            "job '\(Names.escaped(name))' has \(placed) of \(replicas) replicas placed; place it first, then pin it"
        case .unknownServer(let name, let known):
            "unknown server '\(Names.escaped(name))'; `plan servers` lists the \(known) known servers"
        case .serverRunsJobs(let server, let jobs):
            "server '\(server)' runs \(jobs.count) placed job(s) (\(jobs.joined(separator: ", "))); "
                + "unplace them first or remove the server with force to unplace them"
        case .serverChangeRunsJobs(let server, let change, let jobs):
            "server '\(server)' changes (\(change)) but runs \(jobs.count) placed job(s) (\(jobs.joined(separator: ", "))); "
                + "unplace them first or sync with force to unplace them"
        case .unknownSKU(let id, let valid): "unknown server SKU '\(id)'; valid SKUs: \(valid.joined(separator: ", "))"
        case .duplicateSKU(let id):
            "a server SKU with id '\(id)' already exists; choose another id or use `plan skus set-price`"
        case .unknownGPU(let id, let valid):
            "unknown GPU '\(id)'; valid GPUs: \(valid.joined(separator: ", "))"
        case .invalidName(let problem): problem.message
        case .modelConfigTooLarge(let model, let limit):
            "the config of model '\(model)' is larger than \(limit) bytes; plan stores configs up to 1 MiB"
        case .duplicateModel(let id): "a model named '\(id)' already exists; choose another id"
        case .aliasTaken(let alias): "the alias '\(alias)' already names a model; choose another alias"
        case .gpuAliasTaken(let alias, let gpu): "the name '\(alias)' already names GPU type '\(gpu)'; choose another name"
        case .aliasRepeated: "an alias is given twice; give each alias once"
        }
    }
}
