import Foundation
import Service
import XCTest

final class DoorbellTests: XCTestCase {
    /// Every sleep lasts its duration, also after earlier sleeps timed out (an AsyncStream-based wake-up
    /// returned at once from the second sleep on, which turned the learner's poll into a busy loop).
    func testRepeatedSleepsLastTheirDuration() async {
        let bell = Doorbell()
        let clock = ContinuousClock()
        for _ in 0..<5 {
            let elapsed = await clock.measure { await bell.sleep(for: .milliseconds(40)) }
            XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(40))
        }
    }

    func testRingWakesTheSleeperEarly() async {
        let bell = Doorbell()
        let clock = ContinuousClock()
        let ringer = Task {
            try? await Task.sleep(for: .milliseconds(50))
            bell.ring()
        }
        let elapsed = await clock.measure { await bell.sleep(for: .seconds(60)) }
        XCTAssertLessThan(elapsed, .seconds(30))
        await ringer.value
    }

    func testRingWithoutSleeperIsKeptForTheNextSleep() async {
        let bell = Doorbell()
        bell.ring()
        bell.ring()   // rings do not pile up: one early return, then sleeps last again
        let clock = ContinuousClock()
        let first = await clock.measure { await bell.sleep(for: .seconds(60)) }
        XCTAssertLessThan(first, .seconds(30))
        let second = await clock.measure { await bell.sleep(for: .milliseconds(40)) }
        XCTAssertGreaterThanOrEqual(second, .milliseconds(40))
    }

    /// Without a deadline the sleeper waits for a ring, however long (the learner does not poll).
    func testASleepWithoutDeadlineLastsUntilTheRing() async {
        let bell = Doorbell()
        let woke = ManagedFlag()
        let sleeper = Task {
            await bell.sleep(for: nil)
            woke.set()
        }
        try? await Task.sleep(for: .milliseconds(300))
        XCTAssertFalse(woke.isSet, "woke without a ring")
        bell.ring()
        await sleeper.value
        XCTAssertTrue(woke.isSet)
    }
}

private final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
