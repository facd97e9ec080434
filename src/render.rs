//! Output formats (being built).
