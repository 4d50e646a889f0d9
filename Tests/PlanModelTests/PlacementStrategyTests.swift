import Foundation
import PlanModel
import Testing

/// `placements.strategy` and the STRATEGY column hold these labels; the enum reads and writes
/// exactly the strings stored before it existed.
@Suite struct PlacementStrategyTests {
    @Test(arguments: [
        ("sized", PlacementStrategy.sized), ("replica", .replica), ("ddp", .training(.ddp)), ("zero1", .training(.zero1)),
        ("zero2", .training(.zero2)), ("zero3", .training(.zero3)), ("fsdp", .training(.fsdp)),
    ])
    func aLabelReadsBackAndIsWrittenAsItWas(label: String, strategy: PlacementStrategy) throws {
        #expect(PlacementStrategy(rawValue: label) == strategy)
        #expect(strategy.rawValue == label)
        #expect(String(decoding: try JSONEncoder().encode([strategy]), as: UTF8.self) == #"["\#(label)"]"#)
        #expect(try JSONDecoder().decode([PlacementStrategy].self, from: Data(#"["\#(label)"]"#.utf8)) == [strategy])
    }

    @Test func everyTrainingStrategyHasItsOwnLabel() {
        for s in Strategy.allCases { #expect(PlacementStrategy(rawValue: s.rawValue) == .training(s)) }
    }

    @Test(arguments: ["", "Sized", "zero4", "replica ", "auto"])
    func anUnknownLabelIsNil(label: String) {
        #expect(PlacementStrategy(rawValue: label) == nil)
    }
}
