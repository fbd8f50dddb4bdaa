//! `regex` for rt's dependency tree, backed by `regex-lite` (see Cargo.toml for why).
pub use regex_lite::{Captures, Error, Match, Regex, RegexBuilder};
