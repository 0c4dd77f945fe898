// SamplingParametersTests: validation messages, defaults, and the OpenAI-style JSON keys.

import Foundation
import Sampling
import XCTest

final class SamplingParametersTests: XCTestCase {
    func testDefaultsAreValidAndOff() throws {
        let defaults = SamplingParameters()
        XCTAssertEqual(defaults, SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0))
        XCTAssertNoThrow(try defaults.validate())
        XCTAssertNoThrow(try SamplingParameters.greedy.validate())
        XCTAssertNoThrow(try SamplingParameters(temperature: 2, topK: 1, topP: 1e-6, minP: 1).validate())
        XCTAssertTrue(SamplingParameters.greedy.isGreedy)
    }

    func testValidationNamesTheParameter() {
        let cases: [(SamplingParameters, String)] = [(SamplingParameters(temperature: -0.5), "temperature"),
                                                     (SamplingParameters(topK: -3), "top_k"),
                                                     (SamplingParameters(topP: 0), "top_p"),
                                                     (SamplingParameters(minP: 2), "min_p")]
        for (parameters, name) in cases {
            XCTAssertThrowsError(try parameters.validate()) { error in
                guard case SamplingError.invalidParameter(let reported, _, let hint) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(reported, name)
                XCTAssertFalse(hint.isEmpty)
            }
        }
    }

    func testDecodesOpenAIKeysWithDefaults() throws {
        let decoder = JSONDecoder()
        XCTAssertEqual(try decoder.decode(SamplingParameters.self, from: Data("{}".utf8)), SamplingParameters())
        let full = #"{"temperature": 0.7, "top_k": 40, "top_p": 0.9, "min_p": 0.05}"#
        XCTAssertEqual(try decoder.decode(SamplingParameters.self, from: Data(full.utf8)),
                       SamplingParameters(temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05))
        let parameters = SamplingParameters(temperature: 0.3, topK: 5, topP: 0.5, minP: 0.1)
        let encoded = try JSONEncoder().encode(parameters)
        XCTAssertEqual(try decoder.decode(SamplingParameters.self, from: encoded), parameters)
        let keys = try XCTUnwrap(JSONSerialization.jsonObject(with: encoded) as? [String: Any]).keys.sorted()
        XCTAssertEqual(keys, ["min_p", "temperature", "top_k", "top_p"])
    }
}
