// FeedbackController: POST /v1/feedback: a thumb on a response ({response_id, rating}, or {client_ref, rating}
// naming it by the client's own reference) or a choice on a pair ({pair_id, choice}), with an optional comment
// and event_id; 200 once committed, also for a retry.

import Foundation
import Hummingbird
import Service
import ProximaCore

// MARK: - Wire types

/// `choice`: the number 0 or 1, or the string "tie" (a string "0" or "1" is refused: types are strict).
struct ChoiceValue: Decodable {
    var choice: PairChoice?
    var raw: String

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let number = try? c.decode(Int.self) {
            raw = String(number)
            choice = number == 0 || number == 1 ? PairChoice(rawValue: raw) : nil
        } else {
            let text = try c.decode(String.self)
            raw = "\"\(text)\""
            choice = text == "tie" ? .tie : nil
        }
    }
}

struct FeedbackBody: Decodable {
    var responseID: String?
    var clientRef: String?
    var rating: String?
    var pairID: String?
    var choice: ChoiceValue?
    var comment: String?
    var eventID: String?

    enum CodingKeys: String, CodingKey {
        case responseID = "response_id", clientRef = "client_ref", rating, pairID = "pair_id", choice, comment, eventID = "event_id"
    }

    /// The verdict, or a 400 naming what is missing or wrong.
    func verdict() throws -> FeedbackRequest.Verdict {
        if let clientRef {
            guard responseID == nil, pairID == nil else {
                throw APIError.invalidRequest("Name the response by one of 'response_id', 'client_ref' or 'pair_id'.", param: "client_ref")
            }
            return .thumbByClientRef(clientRef, rating: try thumb())
        }
        switch (responseID, pairID) {
        case let (responseID?, nil):
            return .thumb(responseID: responseID, rating: try thumb())
        case let (nil, pairID?):
            guard rating == nil else { throw APIError.invalidRequest("A pair choice takes 'choice', not 'rating'.", param: "rating") }
            guard let choice else { throw APIError.invalidRequest("Missing 'choice' (0, 1 or \"tie\").", param: "choice") }
            guard let value = choice.choice else {
                throw APIError.invalidRequest("'choice' must be the number 0 or 1, or \"tie\" (got \(choice.raw)).", param: "choice")
            }
            return .choice(pairID: pairID, choice: value)
        case (_?, _?):
            throw APIError.invalidRequest("Send either 'response_id' with 'rating' or 'pair_id' with 'choice', not both.", param: "pair_id")
        case (nil, nil):
            throw APIError.invalidRequest("Missing 'response_id' (with 'rating') or 'pair_id' (with 'choice').", param: "response_id")
        }
    }

    private func thumb() throws -> ThumbRating {
        guard choice == nil else { throw APIError.invalidRequest("A thumb takes 'rating', not 'choice'.", param: "choice") }
        guard let rating else { throw APIError.invalidRequest("Missing 'rating' (\"up\" or \"down\").", param: "rating") }
        guard let thumb = ThumbRating(rawValue: rating) else {
            throw APIError.invalidRequest("'rating' must be \"up\" or \"down\" (got \"\(rating)\").", param: "rating")
        }
        return thumb
    }
}

/// The answer: which event was recorded, and whether this call stored it or found it stored already.
struct FeedbackResponse: Encodable {
    var object = "feedback"
    var eventID: String
    var responseID: String
    var status: String

    enum CodingKeys: String, CodingKey { case object, eventID = "event_id", responseID = "response_id", status }
}

// MARK: - Route

struct FeedbackController {
    let feedback: FeedbackService
    let bodyLimit: Int

    func create(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(FeedbackBody.self, from: request, limit: bodyLimit)
        let verdict = try body.verdict()
        let receipt: FeedbackReceipt
        do {
            receipt = try await feedback.record(FeedbackRequest(verdict: verdict, comment: body.comment, eventID: body.eventID,
                                                                apiKeyID: context.apiKey?.id, fromAdminKey: context.apiKey?.role == .admin))
        } catch {
            throw APIError(error)
        }
        return try JSONResponse.make(FeedbackResponse(eventID: receipt.eventID, responseID: receipt.responseID,
                                                      status: receipt.stored ? "recorded" : "duplicate"))
    }
}
