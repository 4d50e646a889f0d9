extension GapReport {
    /// Which jobs a purchase is for: `keep` (placed jobs stay) or `repack` (every job that is not
    /// pinned may move). Reported as `mode`.
    public enum Mode: String, Encodable, Sendable {
        case keep, repack
    }

    /// Where a job runs once the purchase is made. Reported as `runs_on`.
    public enum RunsOn: String, Encodable, Sendable {
        /// It fits the free capacity.
        case existing
        /// It needs the servers bought.
        case purchase
        /// Nothing in the catalog holds it.
        case none
    }
}
