import Inventory
import PlanModel
import Testing

@testable import PlanCLI

/// The store's errors do not name flags; the CLI's rendering does, with the text users have seen.
@Suite struct ErrorMessageTests {
    static let flagged: [(StoreError, String)] = [
        (
            .folderMissing(path: "/x/p.sqlite", folder: "/x"),
            "cannot open database '/x/p.sqlite': the folder '/x' does not exist; create it or pick another --db path"
        ),
        (
            .schemaNewer(path: "p.sqlite", version: 9, known: 4),
            "database 'p.sqlite' has schema version 9, newer than this plan understands (up to 4); use a newer plan or another --db"
        ),
        (
            .serverRunsJobs(server: "n1", jobs: ["a", "b"]),
            "server 'n1' runs 2 placed job(s) (a, b); unplace them first or pass --force to unplace them"
        ),
        (.duplicateModel(id: "m"), "a model named 'm' already exists; choose another --id"),
        (.aliasTaken(alias: "al"), "the alias 'al' already names a model; choose another --alias"),
        (.aliasRepeated, "an --alias is given twice; give each alias once"),
    ]

    @Test(arguments: flagged) func theCLINamesTheFlagTheStoreDoesNot(error: StoreError, cli: String) {
        #expect(describe(error) == (cli, ExitCode.failure))
        #expect(!error.description.contains("--"))
    }

    @Test func otherStoreErrorsReadTheSameInTheCLI() {
        let e = StoreError.unknownJob(name: "a\u{7}b", known: 3)
        #expect(describe(e).0 == e.description)
        #expect(e.description == "unknown job 'a\\u{7}b'; `plan jobs` lists the 3 known jobs")
    }
}
