// Judges: builds the preference judge a JudgeSpec names (`learner.simulator`, `--simulator`): the rubric, a
// local GGUF model (loaded here, on its own, with the given compute pool) or a remote OpenAI-compatible endpoint.

import Inference
import ModelFiles
import ProximaCore
import ProximaNumerics
import Service
import Simulators

public enum Judges {
    public static func make(_ text: String, pool: ComputePool) throws -> any PreferenceSimulator {
        let spec: JudgeSpec
        do { spec = try JudgeSpec(parsing: text) } catch { throw SettingsError(key: "simulator", error.description) }
        switch spec {
        case .rubric:
            return try RubricSimulator()
        case let .llm(path):
            let model: ModelBundle
            do { model = try ModelBundle(path: path, pool: pool) } catch {
                throw SettingsError(key: "simulator", "the judge model \(path) does not load: \(error)")
            }
            let scorer = try ModelLabelScorer(model: model, scorer: NextTokenScorer(weights: model.weights, pool: pool))
            return LLMJudge(name: "llm:\(model.name)", scorer: scorer)
        case let .remote(base, model, timeout, attempts):
            return RemoteJudge(base: base, model: model, timeoutSeconds: timeout, attempts: attempts)
        }
    }
}
