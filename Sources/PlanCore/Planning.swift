import PlanModel

/// Why a use case refuses; each case renders as one sentence naming the value and what is valid.
public enum CoreError: Error, Equatable, CustomStringConvertible {
    /// A job name that is not in the store.
    case unknownJob(String, known: Int)

    public var description: String {
        switch self {
        case .unknownJob(let name, let known):
            "unknown job '\(Names.escaped(name))'; `plan jobs` lists the \(known) known jobs"
        }
    }
}

public enum Planning {
    /// Plans on a snapshot and, unless `dryRun`, applies the changes `body` computes from it.
    ///
    /// Planning (estimating every job, then the placement search) runs outside the write lock: `body`
    /// works on a snapshot, and the changes are applied in one transaction only if no other writer
    /// has committed since that snapshot. Otherwise it plans again on a fresh snapshot; after three
    /// tries it plans under the lock, so a busy fleet still gets its plan. Concurrent runs therefore
    /// never give a GPU twice, and an interrupted run leaves the previous plan intact.
    public static func run<T>(
        _ store: some InventoryStore, dryRun: Bool, _ body: (PlanningSnapshot) throws -> (PlanChanges, T)
    ) throws -> T {
        if dryRun { return try body(try store.versionedSnapshot().snapshot).1 }
        for _ in 0..<3 {
            let (snapshot, version) = try store.versionedSnapshot()
            let (changes, result) = try body(snapshot)
            if try store.apply(changes, ifUnchangedSince: version) { return result }
        }
        return try store.applyLocked(body)
    }
}
