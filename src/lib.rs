//! polybrief: trilingual news briefs on the CPU.
//!
//! An article goes through [`ingest`] (decode, clean, split), the
//! [`pipeline`] (summarize, translate, check) driven by an [`engine`] that
//! runs a model fetched and verified by the [`store`], and is written by
//! [`render`]. [`eval`] scores outputs against references with metrics that
//! equal `rouge-score` and `sacrebleu`. [`config`] is the one place where
//! flags, environment and the config file are layered.

pub mod config;
pub mod engine;
pub mod error;
pub mod eval;
pub mod ingest;
pub mod lang;
pub mod pipeline;
pub mod render;
pub mod seq2seq;
pub mod store;

pub use error::InputError;
