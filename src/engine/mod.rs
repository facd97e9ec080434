//! engine (being built).

pub mod tokenizer;
