import CCbc
import Foundation

/// A mixed-integer linear program solved by CBC, single-threaded with fixed settings so that the
/// same model always gives the same answer.
struct MILP {
    struct Column {
        var lower: Double
        var upper: Double
        var objective: Double
        var integer: Bool
    }

    struct Row {
        var columns: [Int32]
        var coefficients: [Double]
        /// "L" (<=), "G" (>=) or "E" (=).
        var sense: UInt8
        var rhs: Double
    }

    struct Result {
        /// Whether CBC found a feasible solution (its values are in `values`).
        var feasible: Bool
        /// Whether CBC proved the solution optimal (or the model infeasible).
        var proved: Bool
        var objective: Double
        /// CBC's best bound on the optimum (the LP bound if the search stopped at the root).
        var bound: Double
        var values: [Double]
    }

    /// CBC 2.10's solver driver keeps global state: two solves at once (tests run in parallel, or
    /// a caller's threads) can change each other's result, so solves take turns.
    static let lock = NSLock()

    var columns: [Column] = []
    var rows: [Row] = []
    var maximize = false

    mutating func addColumn(lower: Double = 0, upper: Double, objective: Double, integer: Bool) -> Int {
        columns.append(Column(lower: lower, upper: upper, objective: objective, integer: integer))
        return columns.count - 1
    }

    mutating func addRow(_ terms: [(Int, Double)], _ sense: UInt8, _ rhs: Double) {
        guard !terms.isEmpty else { return }
        rows.append(Row(columns: terms.map { Int32($0.0) }, coefficients: terms.map(\.1), sense: sense, rhs: rhs))
    }

    /// Solves within `seconds`; `start` is a feasible solution CBC may use as its first incumbent.
    func solve(seconds: Double, start: [Double]? = nil) -> Result {
        // CBC reports an empty model oddly (and prints); its optimum is plain.
        if columns.isEmpty || rows.isEmpty {
            let v = columns.map { c in (c.objective > 0) == maximize && c.objective != 0 ? c.upper : c.lower }
            let obj = zip(columns, v).reduce(0) { $0 + $1.0.objective * $1.1 }
            return Result(feasible: true, proved: true, objective: obj, bound: obj, values: v)
        }
        Self.lock.lock()
        defer { Self.lock.unlock() }
        guard let model = Cbc_newModel() else { return Result(feasible: false, proved: false, objective: 0, bound: 0, values: []) }
        defer { Cbc_deleteModel(model) }
        for c in columns {
            Cbc_addCol(model, "", c.lower, c.upper, c.objective, c.integer ? 1 : 0, 0, nil, nil)
        }
        for r in rows {
            r.columns.withUnsafeBufferPointer { cols in
                r.coefficients.withUnsafeBufferPointer { coefs in
                    Cbc_addRow(model, "", Int32(r.columns.count), cols.baseAddress, coefs.baseAddress, CChar(bitPattern: r.sense), r.rhs)
                }
            }
        }
        Cbc_setObjSense(model, maximize ? -1 : 1)
        Cbc_setLogLevel(model, 0)
        // CBC's defaults are single-threaded with fixed seeds; passing "threads" or seed options
        // makes this build print to stdout.
        Cbc_setMaximumSeconds(model, seconds)
        Cbc_setAllowableGap(model, 0)
        Cbc_setAllowableFractionGap(model, 0)
        if let start, start.count == columns.count {
            let idx = (0..<Int32(columns.count)).map { $0 }
            idx.withUnsafeBufferPointer { i in
                start.withUnsafeBufferPointer { v in
                    Cbc_setMIPStartI(model, Int32(columns.count), i.baseAddress, v.baseAddress)
                }
            }
        }
        Cbc_solve(model)
        let infeasible = Cbc_isProvenInfeasible(model) != 0
        var proved = Cbc_isProvenOptimal(model) != 0 || infeasible
        let integral = columns.allSatisfy { $0.integer && $0.objective == $0.objective.rounded() }
        var values: [Double] = []
        var feasible = false
        if !infeasible, let sol = Cbc_getColSolution(model), Cbc_numberSavedSolutions(model) > 0 || proved {
            values = Array(UnsafeBufferPointer(start: sol, count: columns.count))
            feasible = true
        }
        let objective = Cbc_getObjValue(model)
        var bound = Cbc_getBestPossibleObjValue(model)
        if proved { bound = objective }
        // Every objective coefficient here is a whole number: a bound less than one above the
        // incumbent proves it, whatever status CBC reports after preprocessing.
        if feasible && !proved && integral && abs(bound - objective) < 1 - 1e-6 {
            proved = true
            bound = objective
        }
        return Result(feasible: feasible, proved: proved, objective: objective, bound: bound, values: values)
    }
}
