import Testing

@testable import PlanModel

@Suite struct ByteSizeTests {
    // Hand-computed: GB = 10^9, GiB = 2^30, MiB = 2^20, TiB = 2^40.
    @Test(arguments: [
        ("80GB", 80_000_000_000),
        ("80GiB", 85_899_345_920),
        ("81920MiB", 85_899_345_920),
        ("2TiB", 2_199_023_255_552),
        ("1024", 1024),
        ("1.5GiB", 1_610_612_736),
        ("80gb", 80_000_000_000),
        ("512 MiB", 536_870_912),
        ("1PB", 1_000_000_000_000_000),
    ])
    func parsesValidSizes(text: String, bytes: Int) {
        #expect(ByteSize.parse(text) == Bytes(bytes))
    }

    @Test(arguments: ["80XB", "-1GB", "1e400", "", "GB", "0", "0GB", "1.2.3GB", "9999999999999999999", "20000PiB", "abc", "1,5GB"])
    func rejectsInvalidSizes(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    @Test func formatsGiBWithUnit() {
        #expect(Bytes(16_060_522_496).gibString == "14.96 GiB")
        #expect(Bytes(0).gibString == "0.00 GiB")
        #expect(Bytes(1 << 30).gibString == "1.00 GiB")
    }

    @Test func naturalOrderReadsNumbersAsNumbers() {
        let names = ["node-10", "node-2", "node-1", "alpha", "node-02", "node-2a"]
        #expect(names.sorted(by: naturalLess) == ["alpha", "node-1", "node-02", "node-2", "node-2a", "node-10"])
        #expect(!naturalLess("a", "a"))
    }
}

/// The one default-strategy rule, used by `plan estimate` and `plan job add` alike.
@Suite struct DefaultStrategyTests {
    @Test(arguments: [
        (Offload.none, 1, Strategy.ddp), (.none, 8, .ddp),
        // One data-parallel rank (e.g. --gpus 4 --tp 4): nothing to shard the optimizer over.
        (.optimizer, 1, .ddp), (.optimizer, 2, .zero2),
        (.params, 1, .zero3), (.params, 4, .zero3),
    ])
    func defaultStrategy(offload: Offload, dp: Int, expected: Strategy) {
        #expect(Strategy.defaultFor(offload: offload, dataParallel: dp) == expected)
    }

    @Test func qloraAlwaysMeansAnNF4Base() {
        #expect(Workload(mode: .train, method: .qlora, dtype: .bf16).dtype == .nf4)
        #expect(Workload(mode: .train, method: .lora, dtype: .bf16).dtype == .bf16)
    }
}
