// SamplingParameters: how a response is sampled (temperature, top-k, top-p, min-p), with validation.
// Decoded from requests with OpenAI-style keys; every field has a default that means "off".

// MARK: - Parameters

/// The settings of the sampling chain. Defaults sample from the model's full distribution at temperature 1.
public struct SamplingParameters: Sendable, Equatable, Codable {
    /// Softmax temperature; 0 means greedy (argmax). Default 1.
    public var temperature: Float
    /// Keep only the `topK` most likely tokens; 0 (the default) turns it off.
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches `topP`; 1 (the default) turns it off.
    public var topP: Float
    /// Keep tokens whose probability is at least `minP` times the top token's; 0 (the default) turns it off.
    public var minP: Float

    /// Creates parameters; call `validate()` (or create a `TokenSampler`) to check them.
    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
    }

    /// Greedy decoding: always the most likely token (the lowest id among equal logits).
    public static let greedy = SamplingParameters(temperature: 0)

    /// Whether these parameters pick the argmax without drawing.
    public var isGreedy: Bool { temperature == 0 }

    // MARK: - Validation

    /// Throws `SamplingError.invalidParameter` naming the first parameter outside its range.
    public func validate() throws(SamplingError) {
        guard temperature.isFinite, temperature >= 0 else {
            throw .invalidParameter(name: "temperature", value: "\(temperature)",
                                    hint: "use 0 for greedy decoding or a finite positive value such as 0.7 or 1")
        }
        guard topK >= 0 else {
            throw .invalidParameter(name: "top_k", value: "\(topK)", hint: "use 0 to turn top-k off or a positive count such as 40")
        }
        guard topP > 0, topP <= 1 else {
            throw .invalidParameter(name: "top_p", value: "\(topP)", hint: "top_p must be in (0, 1]; use 1 to turn it off")
        }
        guard minP >= 0, minP <= 1 else {
            throw .invalidParameter(name: "min_p", value: "\(minP)", hint: "min_p must be in [0, 1]; use 0 to turn it off")
        }
    }

    // MARK: - Coding

    /// JSON keys as in the OpenAI-style request body.
    enum CodingKeys: String, CodingKey {
        case temperature
        case topK = "top_k"
        case topP = "top_p"
        case minP = "min_p"
    }

    /// Decodes parameters; a missing key takes its default. Values are not validated here.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = SamplingParameters()
        temperature = try container.decodeIfPresent(Float.self, forKey: .temperature) ?? defaults.temperature
        topK = try container.decodeIfPresent(Int.self, forKey: .topK) ?? defaults.topK
        topP = try container.decodeIfPresent(Float.self, forKey: .topP) ?? defaults.topP
        minP = try container.decodeIfPresent(Float.self, forKey: .minP) ?? defaults.minP
    }
}
