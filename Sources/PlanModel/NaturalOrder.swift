/// Orders names the way people read them: `node-2` before `node-10`. Ties fall back to plain
/// byte order so that the order is total and deterministic.
public func naturalLess(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    var i = 0
    var j = 0
    while i < x.count && j < y.count {
        let cx = x[i]
        let cy = y[j]
        if isDigit(cx) && isDigit(cy) {
            var ei = i
            while ei < x.count && isDigit(x[ei]) { ei += 1 }
            var ej = j
            while ej < y.count && isDigit(y[ej]) { ej += 1 }
            // Compare digit runs by value: strip leading zeros, then length, then digits.
            var si = i
            while si < ei - 1 && x[si] == 48 { si += 1 }
            var sj = j
            while sj < ej - 1 && y[sj] == 48 { sj += 1 }
            if ei - si != ej - sj { return ei - si < ej - sj }
            for k in 0..<(ei - si) where x[si + k] != y[sj + k] { return x[si + k] < y[sj + k] }
            i = ei
            j = ej
        } else {
            if cx != cy { return cx < cy }
            i += 1
            j += 1
        }
    }
    if x.count - i != y.count - j { return x.count - i < y.count - j }
    return x.lexicographicallyPrecedes(y)
}

@inline(__always) private func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
