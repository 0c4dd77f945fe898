import Learning
import XCTest

final class AnnotationScheduleTests: XCTestCase {
    /// Which steps resample, and from which step's starting policy each step's pairs come.
    func testBlocksAndBehaviorSteps() throws {
        let offline = try XCTUnwrap(AnnotationSchedule(steps: 6, frequency: 1))
        XCTAssertEqual((1...6).filter(offline.annotates), [1])
        XCTAssertEqual((1...6).map(offline.behaviorStep), [1, 1, 1, 1, 1, 1])

        let onPolicy = try XCTUnwrap(AnnotationSchedule(steps: 6, frequency: 6))
        XCTAssertEqual((1...6).filter(onPolicy.annotates), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual((1...6).map(onPolicy.behaviorStep), [1, 2, 3, 4, 5, 6])

        let two = try XCTUnwrap(AnnotationSchedule(steps: 100, frequency: 2))
        XCTAssertEqual((1...100).filter(two.annotates), [1, 51])
        XCTAssertEqual(two.behaviorStep(of: 50), 1)
        XCTAssertEqual(two.behaviorStep(of: 51), 51)
        XCTAssertEqual(two.behaviorStep(of: 100), 51)

        // F that does not divide T: still exactly F blocks, of ⌊T/F⌋ or ⌈T/F⌉ steps.
        for (t, f) in [(10, 6), (10, 4), (100, 3), (7, 7), (100, 99)] {
            let s = try XCTUnwrap(AnnotationSchedule(steps: t, frequency: f))
            let starts = (1...t).filter(s.annotates)
            XCTAssertEqual(starts.count, f, "T \(t) F \(f)")
            let lengths = zip(starts, starts.dropFirst() + [t + 1]).map { $1 - $0 }
            XCTAssertTrue(lengths.allSatisfy { $0 == t / f || $0 == (t + f - 1) / f }, "T \(t) F \(f): \(lengths)")
            XCTAssertEqual((1...t).map(s.block), (1...t).map { s.block(of: s.behaviorStep(of: $0)) })
        }
    }

    func testFrequencyOutOfRangeIsRefusedWithTheRange() {
        XCTAssertNil(AnnotationSchedule(steps: 100, frequency: 0))
        XCTAssertNil(AnnotationSchedule(steps: 100, frequency: 101))
        XCTAssertEqual(AnnotationSchedule.problem(steps: 100, frequency: 101),
                       "the annotation frequency must be in 1...100, the steps (got 101)")
        XCTAssertNil(AnnotationSchedule(steps: 0, frequency: 1))
    }
}
