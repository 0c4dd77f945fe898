import Foundation
import Service
import Synchronization
import XCTest

final class ComputeLeaseTests: XCTestCase {
    /// Between two engine steps the lease is free, but the learner must not slip in while the engine has work.
    func testLearnerWaitsWhileServingIsBusyBetweenSteps() {
        let lease = ComputeLease(maxLearnerWait: .seconds(60))
        lease.setServingBusy(true)
        let learnerIn = Atomic<Bool>(false)
        let learner = Thread {
            lease.acquireForLearning()
            learnerIn.store(true, ordering: .sequentiallyConsistent)
            lease.release()
        }
        learner.start()
        for _ in 0..<20 {   // engine steps with gaps between them
            lease.acquireForServing()
            Thread.sleep(forTimeInterval: 0.002)
            lease.release()
            Thread.sleep(forTimeInterval: 0.002)
        }
        XCTAssertFalse(learnerIn.load(ordering: .sequentiallyConsistent), "the learner ran between serving steps")
        lease.setServingBusy(false)
        let deadline = Date().addingTimeInterval(10)
        while !learnerIn.load(ordering: .sequentiallyConsistent) && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
        XCTAssertTrue(learnerIn.load(ordering: .sequentiallyConsistent), "the learner did not run once serving was idle")
    }

    /// Under continuous chat load the learner still gets a chunk in once it has waited maxLearnerWait.
    func testLearnerGetsATurnAfterWaitingTooLong() {
        let lease = ComputeLease(maxLearnerWait: .milliseconds(20))
        lease.setServingBusy(true)
        let learnerIn = Atomic<Bool>(false)
        let learner = Thread {
            lease.acquireForLearning()
            learnerIn.store(true, ordering: .sequentiallyConsistent)
            lease.release()
        }
        learner.start()
        let deadline = Date().addingTimeInterval(10)
        while !learnerIn.load(ordering: .sequentiallyConsistent) && Date() < deadline {
            lease.acquireForServing()
            Thread.sleep(forTimeInterval: 0.002)
            lease.release()
        }
        XCTAssertTrue(learnerIn.load(ordering: .sequentiallyConsistent), "the learner starved under continuous serving")
        lease.setServingBusy(false)
    }
}
