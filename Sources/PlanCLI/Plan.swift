import ArgumentParser
import Foundation

/// The root command: lists the subcommands and documents exit codes.
public struct Plan: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "GPU capacity planning for LLM training and inference.",
        usage: "plan [--db <path>] <subcommand> [<options>]",
        discussion: """
            How much GPU memory does a model need to train or serve, how many GPUs of which kind, \
            do the jobs fit the servers you have, and what is the cheapest hardware to buy when not?

            The database: --db PATH, else $PLAN_DB, else ${XDG_DATA_HOME:-$HOME/.local/share}/plan/plan.sqlite. \
            It is created with its catalogs (GPUs, server SKUs, models) on first use.

            Exit status: 0 success; 1 runtime error (the database is unchanged); 64 usage error; \
            3 `plan place --strict` computed a plan but some jobs did not fit.
            """,
        subcommands: [
            Demo.self, Init.self, Estimate.self,
            GPUs.self, SKUs.self, Models.self,
            ServerCommand.self, AddServer.self, Import.self, Servers.self, RemoveServer.self,
            JobCommand.self, Jobs.self, Place.self, Unplace.self, Capacity.self, Gaps.self, ExportCommand.self, ReportCommand.self,
        ])

    public init() {}

    /// Parses `arguments` and runs the command with `ctx`; returns the exit status. Errors are one
    /// line on `ctx.err` starting with `error:`.
    public static func run(_ arguments: [String], context ctx: Context) -> Int32 {
        var command: ParsableCommand
        let (leadingDB, rest) = extractLeadingGlobals(arguments)
        do {
            // Before parsing, so an empty leading --db is reported even when the rest is bad too.
            try ctx.takeDatabaseOption(leadingDB)
        } catch {
            ctx.err.line("error: " + error.message)
            return error.exitCode
        }
        do {
            command = try Plan.parseAsRoot(rest)
        } catch {
            let code = Plan.exitCode(for: error)
            if code == .success {
                ctx.out.write(Plan.fullMessage(for: error) + "\n")
                return 0
            }
            ctx.err.line("error: " + oneLine(Plan.message(for: error)))
            return code.rawValue == 0 ? 64 : code.rawValue
        }
        do {
            if let c = command as? any PlanCommand {
                try ctx.takeDatabaseOption(c.global.db)
                try c.run(in: ctx)
            } else {
                try command.run()
            }
            return 0
        } catch let e as Exit {
            return e.code
        } catch {
            if Plan.exitCode(for: error) == .success {
                ctx.out.write(Plan.fullMessage(for: error) + "\n")
                return 0
            }
            let (message, code) = describe(error)
            ctx.err.line("error: " + oneLine(message))
            return code
        }
    }

    /// Runs the process's arguments and exits.
    public static func runAndExit() -> Never {
        let ctx = Context.process()
        var status: Int32
        if let bad = firstInvalidArgument() {
            ctx.err.line("error: argument \(bad) is not valid UTF-8 text; give names and paths as UTF-8")
            status = ExitCode.usage
        } else {
            status = run(Array(CommandLine.arguments.dropFirst()), context: ctx)
        }
        let saved = ctx.savedChanges
        ctx.close()
        if !ctx.out.flush(), let why = ctx.out.failure {
            let kept = saved ? "; the change to the database was saved, only this report was lost" : ""
            ctx.err.line("error: cannot write to standard output (\(why))\(kept)")
            if status == 0 { status = ExitCode.failure }
        }
        ctx.err.flush()
        Foundation.exit(status)
    }

    /// The position (1-based) of the first command-line argument that is not valid UTF-8; Swift's
    /// `CommandLine.arguments` would silently turn its bad bytes into U+FFFD.
    static func firstInvalidArgument() -> Int? {
        for i in 1..<Int(CommandLine.argc) {
            guard let p = CommandLine.unsafeArgv[i] else { continue }
            if String(validatingCString: p) == nil { return i }
        }
        return nil
    }

    /// `plan --db PATH <command>`: global options written before the command name, which
    /// ArgumentParser would not give to the command; `Context.takeDatabaseOption` checks them.
    static func extractLeadingGlobals(_ args: [String]) -> (String?, [String]) {
        var db: String?
        var i = 0
        var rest: [String] = []
        while i < args.count {
            let a = args[i]
            if a == "--db", i + 1 < args.count {
                db = args[i + 1]
                i += 2
            } else if a.hasPrefix("--db=") {
                db = String(a.dropFirst(5))
                i += 1
            } else {
                break
            }
        }
        rest.append(contentsOf: args[i...])
        return (db, rest)
    }

    static func oneLine(_ s: String) -> String {
        var t = s.trimmingCharacters(in: .whitespacesAndNewlines)
        if t.lowercased().hasPrefix("error: ") { t = String(t.dropFirst(7)) }
        return t.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }
}

/// Thrown by a command that has already reported and wants a specific exit status.
struct Exit: Error {
    var code: Int32
}
