// StoreRows: the store's records read from rows, written once for every SQL store. A store's row type says how
// to read a column as text, an integer or bytes (`StoreRow`); what the columns mean — the tables of the schema,
// the aliases of the pair queries — is here. A value of the wrong type, an unknown enum value, a bad blob or
// JSON that does not parse is `corruptRow`, never a crash.

import Foundation

// MARK: - Reading a column

/// A row of a query result, read by column name. nil: SQL NULL. Booleans are stored as integers 0/1 (SQLite) or
/// read as such (PostgreSQL's BOOLEAN).
package protocol StoreRow {
    func optionalText(_ column: String, in table: String) throws -> String?
    func optionalInteger(_ column: String, in table: String) throws -> Int64?
    func optionalBytes(_ column: String, in table: String) throws -> Data?
}

extension StoreRow {
    private func required<T>(_ value: T?, _ column: String, _ table: String) throws -> T {
        guard let value else { throw StoreError.corruptRow(table: table, detail: "column \(column) is NULL") }
        return value
    }

    package func text(_ column: String, in table: String) throws -> String {
        try required(try optionalText(column, in: table), column, table)
    }

    package func integer(_ column: String, in table: String) throws -> Int64 {
        try required(try optionalInteger(column, in: table), column, table)
    }

    package func int(_ column: String, in table: String) throws -> Int { Int(try integer(column, in: table)) }

    package func optionalInt(_ column: String, in table: String) throws -> Int? {
        try optionalInteger(column, in: table).map { Int($0) }
    }

    package func bool(_ column: String, in table: String) throws -> Bool { try integer(column, in: table) != 0 }

    package func enumValue<T: RawRepresentable>(_ column: String, in table: String) throws -> T where T.RawValue == String {
        let raw = try text(column, in: table)
        guard let value = T(rawValue: raw) else {
            throw StoreError.corruptRow(table: table, detail: "column \(column) holds unknown value '\(raw)'")
        }
        return value
    }

    package func date(_ column: String, in table: String) throws -> Date { StoredTime.date(try integer(column, in: table)) }

    package func optionalDate(_ column: String, in table: String) throws -> Date? {
        try optionalInteger(column, in: table).map(StoredTime.date)
    }

    package func json<T: Decodable>(_ column: String, in table: String) throws -> T {
        try JSONText.decode(T.self, from: try text(column, in: table), column: "\(table).\(column)")
    }

    package func optionalJSON<T: Decodable>(_ column: String, in table: String) throws -> T? {
        try optionalText(column, in: table).map { try JSONText.decode(T.self, from: $0, column: "\(table).\(column)") }
    }

    package func tokenIDs(_ column: String, in table: String) throws -> [Int] {
        try BlobCoding.tokenIDs(try optionalBytes(column, in: table) ?? Data(), column: "\(table).\(column)")
    }

    package func logprobs(_ column: String, in table: String) throws -> [Float] {
        try BlobCoding.logprobs(try optionalBytes(column, in: table) ?? Data(), column: "\(table).\(column)")
    }
}

// MARK: - Records

package enum StoreRows {
    package static func policyVersion(_ row: some StoreRow) throws -> PolicyVersionRecord {
        let table = "policy_versions"
        func file(_ prefix: String) throws -> StoredFile? {
            guard let path = try row.optionalText("\(prefix)_path", in: table),
                  let sha256 = try row.optionalText("\(prefix)_sha256", in: table) else { return nil }
            return StoredFile(path: path, sha256: sha256)
        }
        return PolicyVersionRecord(id: try row.text("id", in: table), parent: try row.optionalText("parent", in: table),
                                   createdAt: try row.date("created_at", in: table),
                                   status: try row.enumValue("status", in: table),
                                   adapter: try file("adapter"), state: try file("state"),
                                   phaseID: try row.optionalInteger("phase_id", in: table),
                                   baseModelSHA256: try row.text("base_model_sha256", in: table),
                                   metrics: try row.optionalJSON("metrics", in: table))
    }

    package static func request(_ row: some StoreRow) throws -> RequestRecord {
        let table = "requests"
        return RequestRecord(id: try row.text("id", in: table), pairID: try row.optionalText("pair_id", in: table),
                             createdAt: try row.date("created_at", in: table),
                             apiKeyID: try row.optionalText("api_key_id", in: table),
                             policyVersion: try row.text("policy_version", in: table),
                             messages: try row.json("messages", in: table),
                             promptTokenIDs: try row.tokenIDs("prompt_token_ids", in: table),
                             sampling: try row.json("sampling", in: table), n: try row.int("n", in: table),
                             stream: try row.bool("stream", in: table), status: try row.enumValue("status", in: table),
                             clientRef: try row.optionalText("client_ref", in: table))
    }

    package static func sample(_ row: some StoreRow) throws -> SampleRecord {
        let table = "samples"
        return SampleRecord(index: try row.int("sample_index", in: table),
                            tokenIDs: try row.tokenIDs("token_ids", in: table),
                            logprobs: try row.logprobs("logprobs", in: table), text: try row.text("text", in: table),
                            finishReason: try row.enumValue("finish_reason", in: table), shown: try row.bool("shown", in: table))
    }

    package static func feedback(_ row: some StoreRow) throws -> FeedbackRecord {
        let table = "feedback"
        let kind = try row.text("kind", in: table), value = try row.text("value", in: table)
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
        let chosen = try row.optionalInt("chosen_index", in: table), rejected = try row.optionalInt("rejected_index", in: table)
        return FeedbackRecord(id: try row.integer("id", in: table), eventID: try row.text("event_id", in: table),
                              requestID: try row.text("request_id", in: table), verdict: verdict,
                              source: try row.enumValue("source", in: table), comment: try row.optionalText("comment", in: table),
                              apiKeyID: try row.optionalText("api_key_id", in: table),
                              createdAt: try row.date("created_at", in: table),
                              preference: chosen.flatMap { c in rejected.map { Preference(chosenIndex: c, rejectedIndex: $0) } })
    }

    package static func phase(_ row: some StoreRow) throws -> PhaseRecord {
        let table = "phases"
        return PhaseRecord(id: try row.integer("id", in: table), trigger: try row.enumValue("triggered_by", in: table),
                           status: try row.enumValue("status", in: table), config: try row.json("config", in: table),
                           baseVersion: try row.text("base_version", in: table),
                           resultVersion: try row.optionalText("result_version", in: table),
                           pairsUsed: try row.int("pairs_used", in: table),
                           createdAt: try row.date("created_at", in: table),
                           startedAt: try row.optionalDate("started_at", in: table),
                           finishedAt: try row.optionalDate("finished_at", in: table),
                           progress: try row.optionalJSON("progress", in: table),
                           metrics: try row.optionalJSON("metrics", in: table), error: try row.optionalText("error", in: table))
    }

    /// A pair sample from the columns `<prefix>_index`, `<prefix>_token_ids`, … of a pair query.
    package static func pairSample(_ row: some StoreRow, prefix: String) throws -> PairSample {
        let table = "samples"
        return PairSample(index: try row.int("\(prefix)_index", in: table),
                          tokenIDs: try row.tokenIDs("\(prefix)_token_ids", in: table),
                          logprobs: try row.logprobs("\(prefix)_logprobs", in: table),
                          text: try row.text("\(prefix)_text", in: table),
                          finishReason: try row.enumValue("\(prefix)_finish_reason", in: table))
    }

    /// A row of the labelled-pairs query: the request's columns, its latest verdict's (`feedback_id`,
    /// `feedback_source`, `labelled_at`) and the chosen and rejected samples (`chosen_…`, `rejected_…`).
    package static func labelledPair(_ row: some StoreRow) throws -> LabelledPair {
        let request = try Self.request(row)
        return LabelledPair(requestID: request.id, pairID: try pairID(of: request), policyVersion: request.policyVersion,
                            messages: request.messages, promptTokenIDs: request.promptTokenIDs,
                            chosen: try pairSample(row, prefix: "chosen"), rejected: try pairSample(row, prefix: "rejected"),
                            source: try row.enumValue("feedback_source", in: "feedback"),
                            feedbackID: try row.integer("feedback_id", in: "feedback"),
                            labelledAt: try row.date("labelled_at", in: "feedback"))
    }

    /// A row of the rated-responses query: the request, its latest thumb (`rating`, `feedback_…`) and the rated
    /// sample (`rated_…`).
    package static func ratedResponse(_ row: some StoreRow) throws -> RatedResponse {
        let request = try Self.request(row)
        let rating: ThumbRating = try row.enumValue("rating", in: "feedback")
        return RatedResponse(requestID: request.id, policyVersion: request.policyVersion, messages: request.messages,
                             promptTokenIDs: request.promptTokenIDs, sample: try pairSample(row, prefix: "rated"),
                             desirable: rating == .up, source: try row.enumValue("feedback_source", in: "feedback"),
                             feedbackID: try row.integer("feedback_id", in: "feedback"),
                             labelledAt: try row.date("labelled_at", in: "feedback"))
    }

    /// A row of the unlabelled-pairs query: the request and its two samples (`first_…`, `second_…`).
    package static func unlabelledPair(_ row: some StoreRow) throws -> UnlabelledPair {
        let request = try Self.request(row)
        return UnlabelledPair(requestID: request.id, pairID: try pairID(of: request), policyVersion: request.policyVersion,
                              messages: request.messages, promptTokenIDs: request.promptTokenIDs,
                              samples: [try pairSample(row, prefix: "first"), try pairSample(row, prefix: "second")])
    }

    /// The kind, value and rated_index columns of the feedback table that hold a verdict.
    package static func columns(of verdict: FeedbackVerdict) -> (kind: String, value: String, ratedIndex: Int?) {
        switch verdict {
        case .thumb(let index, let rating): ("thumb", rating.rawValue, index)
        case .choice(let choice): ("choice", choice.rawValue, nil)
        }
    }

    private static func pairID(of request: RequestRecord) throws -> String {
        guard let pairID = request.pairID else {
            throw StoreError.corruptRow(table: "requests", detail: "request \(request.id) has two samples and no pair id")
        }
        return pairID
    }
}
