// Tokenizer: see ARCHITECTURE.md. (module scaffold; contents arrive with their issue work)
