//! eval (being built).
