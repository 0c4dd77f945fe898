import Foundation
import Service
import Synchronization
import XCTest

final class ComputeLeaseTests: XCTestCase {
    /// Between two engine steps the lease is free, but the learner must not slip in while the engine has work.
    func testLearnerWaitsWhileServingIsBusyBetweenSteps() {
        let lease = ComputeLease(maxLearnerWait: .seconds(60))
        lease.setServingBusy(true)
        let learner = LearnerThread(lease)
        for _ in 0..<20 {   // engine steps with gaps between them
            lease.acquireForServing()
            Thread.sleep(forTimeInterval: 0.002)
            lease.release()
            Thread.sleep(forTimeInterval: 0.002)
        }
        XCTAssertFalse(learner.gotIn, "the learner ran between serving steps")
        lease.setServingBusy(false)
        let deadline = Date().addingTimeInterval(10)
        while !learner.gotIn && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
        XCTAssertTrue(learner.gotIn, "the learner did not run once serving was idle")
    }

    /// Under continuous chat load the learner still gets a chunk in once it has waited maxLearnerWait.
    func testLearnerGetsATurnAfterWaitingTooLong() {
        let lease = ComputeLease(maxLearnerWait: .milliseconds(20))
        lease.setServingBusy(true)
        let learner = LearnerThread(lease)
        let deadline = Date().addingTimeInterval(10)
        while !learner.gotIn && Date() < deadline {
            lease.acquireForServing()
            Thread.sleep(forTimeInterval: 0.002)
            lease.release()
        }
        XCTAssertTrue(learner.gotIn, "the learner starved under continuous serving")
        lease.setServingBusy(false)
    }
}

/// A thread that takes the lease for learning once and releases it; `gotIn` tells whether it has.
private final class LearnerThread: Sendable {
    private let entered = Atomic<Bool>(false)

    init(_ lease: ComputeLease) {
        Thread { [self] in
            lease.acquireForLearning()
            entered.store(true, ordering: .sequentiallyConsistent)
            lease.release()
        }.start()
    }

    var gotIn: Bool { entered.load(ordering: .sequentiallyConsistent) }
}
