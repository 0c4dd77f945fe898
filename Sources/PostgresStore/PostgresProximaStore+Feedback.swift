// PostgresProximaStore+Feedback: recording feedback events idempotently and reading the labelled pairs
// (latest verdict per request), the rated responses, the unlabelled pairs and the activity out of PostgreSQL.

import Foundation
import PostgresNIO
import ProximaCore

// MARK: - Feedback

extension PostgresProximaStore {
    public func recordFeedback(_ event: FeedbackEvent) async throws -> FeedbackOutcome {
        let eventID = try StoreRules.eventID(for: event)
        return try await write("recording feedback event \(eventID)") { db in try await Self.insertFeedback(db, event, eventID: eventID) }
    }

    /// Stores `event` unless its event id is stored already (same content: `.duplicate`; other: a conflict).
    static func insertFeedback(_ db: Transaction, _ event: FeedbackEvent, eventID: String) async throws -> FeedbackOutcome {
        let (requestID, sampleCount) = try await resolve(db, event.subject)
        var record = try StoreRules.record(for: event, id: 0, eventID: eventID, requestID: requestID, sampleCount: sampleCount)
        if let existing = try await db.rows("SELECT * FROM feedback WHERE event_id = \(eventID)").first.map(StoreRows.feedback) {
            guard existing.hasSameContent(as: record) else { throw StoreError.feedbackConflict(eventID: eventID) }
            return .duplicate(existing)
        }
        let (kind, value, ratedIndex) = StoreRows.columns(of: record.verdict)
        let inserted = try await db.rows("""
            INSERT INTO feedback (event_id, request_id, kind, value, rated_index, source, comment, created_at,
                                  api_key_id, chosen_index, rejected_index)
            VALUES (\(eventID), \(requestID), \(kind), \(value), \(ratedIndex), \(record.source.rawValue), \(record.comment),
                    \(StoredTime.milliseconds(record.createdAt)), \(record.apiKeyID), \(record.preference?.chosenIndex),
                    \(record.preference?.rejectedIndex))
            RETURNING id
            """)
        guard let row = inserted.first else { throw StoreError.database(message: "recording feedback event \(eventID): no id returned") }
        record.id = try row.value("id", in: "feedback")
        try await notify(db, .learnerWork)
        return .stored(record)
    }

    /// The request a feedback subject refers to, and how many samples it has.
    private static func resolve(_ db: Transaction, _ subject: FeedbackSubject) async throws -> (requestID: String, sampleCount: Int) {
        let (column, id, unknown): (String, String, StoreError) = switch subject {
        case .thumb(let responseID, _, _): ("id", responseID, .unknownResponse(id: responseID))
        case .choice(let pairID, _): ("pair_id", pairID, .unknownPair(id: pairID))
        }
        var query = SQL("SELECT id, (SELECT COUNT(*) FROM samples WHERE request_id = requests.id) AS sample_count FROM requests WHERE \(column) = ")
        query.bind(id)
        guard let row = try await db.rows(query.query).first else { throw unknown }
        return (try row.value("id", in: "requests"), try row.int("sample_count", in: "samples"))
    }

    public func feedback(requestID: String) async throws -> [FeedbackRecord] {
        try await read("reading the feedback of \(requestID)") { db in
            try await db.rows("SELECT * FROM feedback WHERE request_id = \(requestID) ORDER BY id").map(StoreRows.feedback)
        }
    }
}

// MARK: - Pairs

extension PostgresProximaStore {
    public func labelledPairs(_ query: LabelledPairQuery) async throws -> [LabelledPair] {
        guard !query.sources.isEmpty else { return [] }
        return try await read("reading labelled pairs") { db in
            var sql = Self.labelledPairsQuery(query, columns: """
                r.*, f.id AS feedback_id, f.source AS feedback_source, f.created_at AS labelled_at,
                c.sample_index AS chosen_index, c.token_ids AS chosen_token_ids, c.logprobs AS chosen_logprobs,
                c.text AS chosen_text, c.finish_reason AS chosen_finish_reason,
                x.sample_index AS rejected_index, x.token_ids AS rejected_token_ids, x.logprobs AS rejected_logprobs,
                x.text AS rejected_text, x.finish_reason AS rejected_finish_reason
                """)
            sql.append(" ORDER BY f.id")
            Self.limit(&sql, query.limit)
            return try await db.rows(sql.query).map(StoreRows.labelledPair)
        }
    }

    public func countLabelledPairs(_ query: LabelledPairQuery) async throws -> Int {
        guard !query.sources.isEmpty else { return 0 }
        return try await read("counting labelled pairs") { db in
            try await db.count(Self.labelledPairsQuery(query, columns: "COUNT(*)").query)
        }
    }

    public func activity(since: Date, bucketSeconds: Int) async throws -> [ActivityBucket] {
        try await read("counting activity") { db in
            var buckets = ActivityBuckets(widthSeconds: bucketSeconds)
            let width = Int64(buckets.widthMilliseconds), from = StoredTime.milliseconds(since)
            // Integer division rounds toward zero; times before 1970 are not stored, so that is the floor.
            for row in try await db.rows("""
                SELECT created_at / \(width) AS bucket, COUNT(*) AS n, COUNT(pair_id) AS paired
                FROM requests WHERE created_at >= \(from) GROUP BY bucket
                """) {
                let (requests, pairs) = (try row.int("n", in: "requests"), try row.int("paired", in: "requests"))
                buckets.add(index: try row.value("bucket", in: "requests")) { $0.requests = requests; $0.pairs = pairs }
            }
            for row in try await db.rows("""
                SELECT created_at / \(width) AS bucket, source, COUNT(*) AS n FROM feedback WHERE created_at >= \(from)
                GROUP BY bucket, source
                """) {
                let source: FeedbackSource = try row.enumValue("source", in: "feedback")
                let count = try row.int("n", in: "feedback")
                buckets.add(index: try row.value("bucket", in: "feedback")) { $0.feedback[source] = count }
            }
            var sql = Self.labelledPairsQuery(LabelledPairQuery(unusedOnly: false),
                                              columns: "f.created_at / \(width) AS bucket, COUNT(*) AS n")
            sql.append(" AND f.created_at >= ")
            sql.bind(from)
            sql.append(" GROUP BY bucket")
            for row in try await db.rows(sql.query) {
                let count = try row.int("n", in: "feedback")
                buckets.add(index: try row.value("bucket", in: "feedback")) { $0.labelledPairs = count }
            }
            return buckets.sorted
        }
    }

    /// Each request's latest feedback event (`f`, the verdict that counts) with its request (`r`).
    private static let latestVerdicts = """
        FROM (SELECT request_id, MAX(id) AS id FROM feedback GROUP BY request_id) AS latest
        JOIN feedback f ON f.id = latest.id
        JOIN requests r ON r.id = f.request_id
        """

    /// The labelled pairs: requests whose latest feedback event (largest id) implies a strict preference,
    /// completed, with neither sample cancelled and different token sequences; then the query's filters.
    private static func labelledPairsQuery(_ query: LabelledPairQuery, columns: String) -> SQL {
        var sql = SQL("""
            SELECT \(columns)
            \(latestVerdicts)
            JOIN samples c ON c.request_id = r.id AND c.sample_index = f.chosen_index
            JOIN samples x ON x.request_id = r.id AND x.sample_index = f.rejected_index
            WHERE r.status = 'completed' AND c.finish_reason <> 'cancelled' AND x.finish_reason <> 'cancelled'
              AND c.token_ids <> x.token_ids
              AND f.source = ANY(
            """)
        sql.bind(query.sources.map(\.rawValue).sorted())
        sql.append(")")
        if query.choicesOnly { sql.append(" AND f.kind = 'choice'") }
        unusedFilter(query, &sql)
        return sql
    }

    public func ratedResponses(_ query: LabelledPairQuery) async throws -> [RatedResponse] {
        guard !query.sources.isEmpty else { return [] }
        return try await read("reading rated responses") { db in
            var sql = Self.ratedResponsesQuery(query, columns: """
                r.*, f.id AS feedback_id, f.source AS feedback_source, f.created_at AS labelled_at, f.value AS rating,
                s.sample_index AS rated_index, s.token_ids AS rated_token_ids, s.logprobs AS rated_logprobs,
                s.text AS rated_text, s.finish_reason AS rated_finish_reason
                """)
            sql.append(" ORDER BY f.id")
            Self.limit(&sql, query.limit)
            return try await db.rows(sql.query).map(StoreRows.ratedResponse)
        }
    }

    public func countRatedResponses(_ query: LabelledPairQuery) async throws -> Int {
        guard !query.sources.isEmpty else { return 0 }
        return try await read("counting rated responses") { db in
            try await db.count(Self.ratedResponsesQuery(query, columns: "COUNT(*)").query)
        }
    }

    /// The rated responses: requests whose latest feedback event is a thumb, completed, the rated sample not
    /// cancelled; then the query's filters.
    private static func ratedResponsesQuery(_ query: LabelledPairQuery, columns: String) -> SQL {
        var sql = SQL("""
            SELECT \(columns)
            \(latestVerdicts)
            JOIN samples s ON s.request_id = r.id AND s.sample_index = f.rated_index
            WHERE f.kind = 'thumb' AND r.status = 'completed' AND s.finish_reason <> 'cancelled'
              AND f.source = ANY(
            """)
        sql.bind(query.sources.map(\.rawValue).sorted())
        sql.append(")")
        unusedFilter(query, &sql)
        return sql
    }

    /// With `unusedOnly`, leaves out requests a phase that keeps its pairs recorded.
    private static func unusedFilter(_ query: LabelledPairQuery, _ sql: inout SQL) {
        guard query.unusedOnly else { return }
        sql.append("""

              AND NOT EXISTS (SELECT 1 FROM phase_pairs pp JOIN phases p ON p.id = pp.phase_id
                              WHERE pp.request_id = r.id AND p.status = ANY(
            """)
        sql.bind(StoreRules.statusesUsingPairs.map(\.rawValue).sorted())
        sql.append("))")
    }

    private static func limit(_ sql: inout SQL, _ limit: Int?) {
        guard let limit else { return }
        sql.append(" LIMIT ")
        sql.bind(max(0, limit))
    }

    public func unlabelledPairs(limit: Int) async throws -> [UnlabelledPair] {
        try await read("reading unlabelled pairs") { db in
            let rows = try await db.rows("""
                SELECT r.*,
                       a.sample_index AS first_index, a.token_ids AS first_token_ids, a.logprobs AS first_logprobs,
                       a.text AS first_text, a.finish_reason AS first_finish_reason,
                       b.sample_index AS second_index, b.token_ids AS second_token_ids, b.logprobs AS second_logprobs,
                       b.text AS second_text, b.finish_reason AS second_finish_reason
                FROM requests r
                JOIN samples a ON a.request_id = r.id AND a.sample_index = 0
                JOIN samples b ON b.request_id = r.id AND b.sample_index = 1
                WHERE r.status = 'completed' AND a.finish_reason <> 'cancelled' AND b.finish_reason <> 'cancelled'
                  AND a.token_ids <> b.token_ids
                  AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.request_id = r.id)
                ORDER BY r.seq
                LIMIT \(max(0, limit))
                """)
            return try rows.map(StoreRows.unlabelledPair)
        }
    }
}
