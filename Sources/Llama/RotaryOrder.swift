// RotaryOrder: where each row of a q or k projection sits in Proxima's (and GGUF Llama's) order, in which
// RoPE rotates consecutive pairs (2i, 2i + 1) of a head, given its Hugging Face order, in which RoPE rotates
// (i, i + d/2). Hugging Face Llama checkpoints, PEFT adapters and GGUF Qwen files are in the latter (FACTS.md).

public enum RotaryOrder {
    /// The row in pair-interleaved order of Hugging Face row `row` (heads of `headDim` rows each): each head's
    /// two halves are interleaved, so row i of the first half goes to 2i and row i of the second to 2i + 1.
    public static func llamaRow(ofHFRow row: Int, headDim: Int) -> Int {
        let head = row / headDim, within = row % headDim, half = headDim / 2
        return head * headDim + 2 * (within % half) + within / half
    }
}
