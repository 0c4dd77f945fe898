// PostgresRows: decoding rows of the PostgreSQL schema into the store's records, failing with `corruptRow`
// (never crashing) when a column is missing, has the wrong type or holds an unknown enum value.

import Foundation
import PostgresNIO
import ProximaCore

// MARK: - Column helpers

typealias Row = PostgresRandomAccessRow

extension PostgresRandomAccessRow {
    func value<T: PostgresDecodable>(_ column: String, in table: String) throws -> T {
        guard contains(column) else { throw StoreError.corruptRow(table: table, detail: "no column \(column)") }
        do {
            return try self[column].decode(T.self)
        } catch {
            throw StoreError.corruptRow(table: table, detail: "column \(column): \(String(reflecting: error))")
        }
    }

    func enumValue<T: RawRepresentable>(_ column: String, in table: String) throws -> T where T.RawValue == String {
        let raw: String = try value(column, in: table)
        guard let value = T(rawValue: raw) else {
            throw StoreError.corruptRow(table: table, detail: "column \(column) holds unknown value '\(raw)'")
        }
        return value
    }

    func int(_ column: String, in table: String) throws -> Int { Int(try value(column, in: table) as Int64) }

    func optionalInt(_ column: String, in table: String) throws -> Int? {
        (try value(column, in: table) as Int64?).map(Int.init)
    }

    func date(_ column: String, in table: String) throws -> Date {
        StoredTime.date(try value(column, in: table))
    }

    func optionalDate(_ column: String, in table: String) throws -> Date? {
        let milliseconds: Int64? = try value(column, in: table)
        return milliseconds.map(StoredTime.date)
    }

    func json<T: Decodable>(_ column: String, in table: String) throws -> T {
        try JSONText.decode(T.self, from: try value(column, in: table), column: "\(table).\(column)")
    }

    func optionalJSON<T: Decodable>(_ column: String, in table: String) throws -> T? {
        let text: String? = try value(column, in: table)
        return try text.map { try JSONText.decode(T.self, from: $0, column: "\(table).\(column)") }
    }

    func tokenIDs(_ column: String, in table: String) throws -> [Int] {
        try BlobCoding.tokenIDs(try value(column, in: table), column: "\(table).\(column)")
    }

    func logprobs(_ column: String, in table: String) throws -> [Float] {
        try BlobCoding.logprobs(try value(column, in: table), column: "\(table).\(column)")
    }
}

// MARK: - Records

enum PostgresRows {
    static func policyVersion(_ row: Row) throws -> PolicyVersionRecord {
        let table = "policy_versions"
        func file(_ prefix: String) throws -> StoredFile? {
            let path: String? = try row.value("\(prefix)_path", in: table)
            let sha256: String? = try row.value("\(prefix)_sha256", in: table)
            guard let path, let sha256 else { return nil }
            return StoredFile(path: path, sha256: sha256)
        }
        return PolicyVersionRecord(id: try row.value("id", in: table), parent: try row.value("parent", in: table),
                                   createdAt: try row.date("created_at", in: table),
                                   status: try row.enumValue("status", in: table),
                                   adapter: try file("adapter"), state: try file("state"),
                                   phaseID: try row.value("phase_id", in: table),
                                   baseModelSHA256: try row.value("base_model_sha256", in: table),
                                   metrics: try row.optionalJSON("metrics", in: table))
    }

    static func request(_ row: Row) throws -> RequestRecord {
        let table = "requests"
        return RequestRecord(id: try row.value("id", in: table), pairID: try row.value("pair_id", in: table),
                             createdAt: try row.date("created_at", in: table),
                             apiKeyID: try row.value("api_key_id", in: table),
                             policyVersion: try row.value("policy_version", in: table),
                             messages: try row.json("messages", in: table),
                             promptTokenIDs: try row.tokenIDs("prompt_token_ids", in: table),
                             sampling: try row.json("sampling", in: table), n: try row.int("n", in: table),
                             stream: try row.value("stream", in: table), status: try row.enumValue("status", in: table),
                             clientRef: try row.value("client_ref", in: table))
    }

    static func sample(_ row: Row) throws -> SampleRecord {
        let table = "samples"
        return SampleRecord(index: try row.int("sample_index", in: table),
                            tokenIDs: try row.tokenIDs("token_ids", in: table),
                            logprobs: try row.logprobs("logprobs", in: table), text: try row.value("text", in: table),
                            finishReason: try row.enumValue("finish_reason", in: table), shown: try row.value("shown", in: table))
    }

    static func feedback(_ row: Row) throws -> FeedbackRecord {
        let table = "feedback"
        let kind: String = try row.value("kind", in: table)
        let value: String = try row.value("value", in: table)
        let verdict: FeedbackVerdict
        switch kind {
        case "thumb":
            guard let rating = ThumbRating(rawValue: value), let index = try row.optionalInt("rated_index", in: table) else {
                throw StoreError.corruptRow(table: table, detail: "thumb value '\(value)' without a valid rated_index")
            }
            verdict = .thumb(sampleIndex: index, rating: rating)
        case "choice":
            guard let choice = PairChoice(rawValue: value) else {
                throw StoreError.corruptRow(table: table, detail: "unknown choice value '\(value)'")
            }
            verdict = .choice(choice)
        default:
            throw StoreError.corruptRow(table: table, detail: "unknown feedback kind '\(kind)'")
        }
        let chosen = try row.optionalInt("chosen_index", in: table)
        let rejected = try row.optionalInt("rejected_index", in: table)
        return FeedbackRecord(id: try row.value("id", in: table), eventID: try row.value("event_id", in: table),
                              requestID: try row.value("request_id", in: table), verdict: verdict,
                              source: try row.enumValue("source", in: table), comment: try row.value("comment", in: table),
                              apiKeyID: try row.value("api_key_id", in: table),
                              createdAt: try row.date("created_at", in: table),
                              preference: chosen.flatMap { c in rejected.map { Preference(chosenIndex: c, rejectedIndex: $0) } })
    }

    static func phase(_ row: Row) throws -> PhaseRecord {
        let table = "phases"
        return PhaseRecord(id: try row.value("id", in: table), trigger: try row.enumValue("triggered_by", in: table),
                           status: try row.enumValue("status", in: table), config: try row.json("config", in: table),
                           baseVersion: try row.value("base_version", in: table),
                           resultVersion: try row.value("result_version", in: table),
                           pairsUsed: try row.int("pairs_used", in: table),
                           createdAt: try row.date("created_at", in: table),
                           startedAt: try row.optionalDate("started_at", in: table),
                           finishedAt: try row.optionalDate("finished_at", in: table),
                           progress: try row.optionalJSON("progress", in: table),
                           metrics: try row.optionalJSON("metrics", in: table), error: try row.value("error", in: table))
    }

    /// A pair sample from the columns `<prefix>_index`, `<prefix>_token_ids`, … of a pair query.
    static func pairSample(_ row: Row, prefix: String) throws -> PairSample {
        let table = "samples"
        return PairSample(index: try row.int("\(prefix)_index", in: table),
                          tokenIDs: try row.tokenIDs("\(prefix)_token_ids", in: table),
                          logprobs: try row.logprobs("\(prefix)_logprobs", in: table),
                          text: try row.value("\(prefix)_text", in: table),
                          finishReason: try row.enumValue("\(prefix)_finish_reason", in: table))
    }
}
