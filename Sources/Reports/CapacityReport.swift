import PlanCore
import PlanModel

extension CapacityReport: Report {
    public var document: JSON { json }

    public var csv: String {
        CSVWriter.render(
            header: ["server", "gpu", "gpus", "free_gpus", "free_memory_bytes", "largest_block_gpus"],
            rows: json.servers.map { [$0.name, $0.gpu, String($0.gpus), String($0.freeGpus), String($0.freeMemoryBytes), String($0.largestBlockGpus)] })
    }

    public var table: String {
        let rows = json.servers, types = json.gpuTypes
        var t = TextTable(["GPU TYPE", "SERVERS", "GPUS", "FREE", "FREE MEMORY", "LARGEST BLOCK", "WHOLE FREE SERVERS"], rightAligned: [1, 2, 3, 4, 6])
        for r in types {
            t.add([r.gpu, String(r.servers), String(r.gpus), String(r.freeGpus), Human.gib(r.freeMemoryBytes),
                   r.largestBlockGpus > 0 ? "\(r.largestBlockGpus) on \(r.largestBlockServer!)" : "-", String(r.wholeFreeServers)])
        }
        t.add(["total", "", String(json.totalGpus), String(json.freeGpus), Human.gib(json.freeMemoryBytes), "", ""])
        var s = TextTable(["SERVER", "GPU", "GPUS", "FREE", "FREE MEMORY"], rightAligned: [2, 3, 4])
        for r in rows { s.add([r.name, r.gpu, String(r.gpus), String(r.freeGpus), Human.gib(r.freeMemoryBytes)]) }
        return perServer ? t.render() + "\n" + s.render() : t.render()
    }
}
