// ModelLoading: a ModelBundle from a GGUF file — weights, tokenizer and chat template from its tensors and
// metadata, each refused with a message naming the file and the problem.

import ChatTemplate
import Inference
import Llama
import ProximaNumerics
import Tokenizer

extension ModelBundle {
    /// Loads `path` (GGUF): weights on `pool`, tokenizer and chat template from the metadata.
    public convenience init(path: String, pool: ComputePool?) throws(ModelFileError) {
        let file = try GGUFFile(path: path)
        let weights = try LlamaWeights(gguf: file, pool: pool)
        let tokenizer = try BPETokenizer(gguf: file)
        guard tokenizer.vocabularySize == weights.config.vocabSize else {
            throw .malformed(path: path, what: "tokenizer", problem: "\(tokenizer.vocabularySize) tokens for a model with a vocabulary of \(weights.config.vocabSize)")
        }
        let source = try file.requiredString("tokenizer.chat_template")
        let template: ChatTemplate
        do {
            template = try ChatTemplate(source)
        } catch {
            throw .unsupported(path: path, what: "metadata 'tokenizer.chat_template'", problem: "\(error)")
        }
        self.init(path: path, weights: weights, tokenizer: tokenizer, chatTemplate: template)
    }
}
