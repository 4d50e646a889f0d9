import Foundation
import PlanModel
import Testing

/// Stored jobs keep `loraTargets` as a list of names; all-linear is written as the seven Llama
/// names, so rows written before `LoRATargets` existed read back the same.
@Suite struct LoRATargetsTests {
    static let seven = #"["q_proj","k_proj","v_proj","o_proj","gate_proj","up_proj","down_proj"]"#

    @Test(arguments: [
        (seven, LoRATargets.allLinear),
        (#"["q_proj","v_proj"]"#, .modules(["q_proj", "v_proj"])),
        (#"["v_proj","q_proj","k_proj","o_proj","gate_proj","up_proj","down_proj"]"#,
         .modules(["v_proj", "q_proj", "k_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])),
    ])
    func aStoredListReadsBackAndIsWrittenAsItWas(json: String, targets: LoRATargets) throws {
        #expect(try JSONDecoder().decode(LoRATargets.self, from: Data(json.utf8)) == targets)
        #expect(String(decoding: try JSONEncoder().encode(targets), as: UTF8.self) == json)
    }

    @Test func aWorkloadKeepsItsJSONShape() throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let json = String(decoding: try enc.encode(Workload(mode: .train, method: .lora)), as: UTF8.self)
        #expect(json.contains(#""loraTargets":\#(Self.seven)"#))
        let back = try JSONDecoder().decode(Workload.self, from: Data(json.utf8))
        #expect(back.loraTargets == .allLinear)
        #expect(back == Workload(mode: .train, method: .lora))
    }
}
