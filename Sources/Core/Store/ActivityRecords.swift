// ActivityRecords: traffic and feedback counted per time bucket, for the operator's dashboard
// (`GET /admin/activity`). Both stores count the same things; this file holds the bucketing they share.

import Foundation

/// What happened in one time bucket `[start, start + width)`.
public struct ActivityBucket: Sendable, Hashable {
    public var start: Date
    /// Chat completions logged (pinned and learning requests; `no-learn` requests are not logged).
    public var requests: Int = 0
    /// Of them, those that drew two samples.
    public var pairs: Int = 0
    /// Feedback events by source (`user`, `simulator`, `import`).
    public var feedback: [FeedbackSource: Int] = [:]
    /// Pairs whose latest verdict, given in this bucket, prefers one sample (what pairwise losses train on).
    public var labelledPairs: Int = 0

    public init(start: Date) { self.start = start }
}

/// Buckets aligned to whole multiples of their width since 1970 (UTC), so hours start on the hour.
package struct ActivityBuckets {
    package let widthMilliseconds: Int64
    private var buckets: [Int64: ActivityBucket] = [:]

    package init(widthSeconds: Int) { widthMilliseconds = Int64(max(1, widthSeconds)) * 1000 }

    package func index(_ milliseconds: Int64) -> Int64 {
        milliseconds >= 0 ? milliseconds / widthMilliseconds : (milliseconds - widthMilliseconds + 1) / widthMilliseconds
    }

    package mutating func add(index: Int64, _ change: (inout ActivityBucket) -> Void) {
        var bucket = buckets[index] ?? ActivityBucket(start: StoredTime.date(index * widthMilliseconds))
        change(&bucket)
        buckets[index] = bucket
    }

    package mutating func add(at date: Date, _ change: (inout ActivityBucket) -> Void) {
        add(index: index(StoredTime.milliseconds(date)), change)
    }

    /// The non-empty buckets, oldest first.
    package var sorted: [ActivityBucket] { buckets.sorted { $0.key < $1.key }.map(\.value) }
}
