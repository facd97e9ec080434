//! Errors that are the user's input's fault, as opposed to runtime failures.
//!
//! The binary exits with code 2 when an [`InputError`] is anywhere in an
//! error's chain and with code 1 otherwise, so scripts can tell "fix your
//! input" from "something broke".

use std::path::PathBuf;

/// A problem with an input the user gave: names the input and the problem.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", .source_name.display())]
pub struct InputError {
    /// The file (or `-` for stdin, or `file:line` for a JSONL record).
    pub source_name: PathBuf,
    /// What is wrong, phrased so the user knows what to do.
    pub problem: String,
}

impl InputError {
    pub fn new(source_name: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        InputError { source_name: source_name.into(), problem: problem.into() }
    }
}

/// True when `err` (or anything it wraps) is an [`InputError`].
pub fn is_input_error(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<InputError>())
}
